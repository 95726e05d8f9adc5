"""What a run tells its operator: quiet on a pipe, a rich progress bar on a terminal, JSON lines
with ``--log-json``. Writes to stderr only (stdout stays free for ``--dry-run`` output).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any, TextIO


class Reporter:
    """Events and progress of one run.

    ``log_json``: every event is one JSON object per line on stderr (borg's --log-json).
    Otherwise events are short human lines, shown only on a terminal (cron mails stay
    empty on success), and ``progress`` draws a rich bar when stderr is a terminal.
    """

    def __init__(
        self, *, log_json: bool = False, progress: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.log_json = log_json
        tty = self.stream.isatty()
        self.human = tty and not log_json
        self.show_progress = (tty if progress is None else progress) and tty and not log_json
        self._progress: Any = None
        self._task_id: Any = None

    def event(self, name: str, message: str = "", **fields: Any) -> None:
        if self.log_json:
            record = {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "event": name,
                **({"message": message} if message else {}),
                **fields,
            }
            self.stream.write(json.dumps(record, default=str, sort_keys=False) + "\n")
            self.stream.flush()
        elif self.human and message:
            if self._progress is not None:
                self._progress.console.print(message)
            else:
                self.stream.write(message + "\n")

    def error(self, message: str, **fields: Any) -> None:
        """Errors are shown everywhere: JSON with --log-json, else a plain line."""
        self._always("error", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Warnings are shown everywhere too: they are what an operator must not miss."""
        self._always("warning", message, **fields)

    def _always(self, kind: str, message: str, **fields: Any) -> None:
        if self.log_json:
            self.event(kind, message, **fields)
        else:
            self.stream.write(f"fragscope: {kind}: {message}\n")
            self.stream.flush()

    def start_progress(self, total: int | None, description: str) -> None:
        if not self.show_progress:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8.0f} tasks/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=False,
        )
        self._progress.start()
        self._task_id = self._progress.add_task(description, total=total, rate=0.0)

    def update_progress(self, done: int, rate: float, *, total: int | None = None) -> None:
        if self._progress is not None:
            if total is not None:
                self._progress.update(self._task_id, total=total)
            self._progress.update(self._task_id, completed=done, rate=rate)

    def stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
