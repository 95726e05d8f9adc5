"""``python -m tests.engine_cli run ...``: the CLI with the engine's test probes registered
(tests/engine_probes.py), for tests that need a real process (signals, kill -9). No I/O
of its own."""

from __future__ import annotations

import tests.engine_probes  # noqa: F401  (registers test.batch64 and the others)

if __name__ == "__main__":
    from fragscope import cli

    cli.main()
