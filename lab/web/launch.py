"""Write a web host's config files, then exec the server. Does I/O (files, exec).

The lab wipes and re-creates its run directory in ``up()`` before it starts services, so
a host's config cannot be written when its Service record is built. Instead the Service
runs ``python -m lab.web.launch -- ARGV...`` with the files in FRAGSCOPE_WEB_FILES (JSON
{path: content}); this writes them at start time and replaces itself with the server, so
the PID the lab records is the server's own.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ENV_FILES = "FRAGSCOPE_WEB_FILES"


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(
            "usage: python -m lab.web.launch -- PROGRAM [ARGS...] (files in FRAGSCOPE_WEB_FILES)"
        )
    try:
        files = json.loads(os.environ.get(ENV_FILES, "{}"))
    except json.JSONDecodeError as exc:
        sys.exit(f"{ENV_FILES}: not JSON: {exc}")
    for path, content in files.items():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    os.environ.pop(ENV_FILES, None)
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
