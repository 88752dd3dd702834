"""A batch's progress: one line per graded submission (to the log and to `grading.log` in the
output folder, for CI), and on a terminal a live bar with done / total, running, failed and the
time left (rich, which Keras installs)."""

from __future__ import annotations

import sys
import time
from pathlib import Path


class Progress:
    def __init__(self, total: int, already: int, log_path: Path, log=print, live: bool = False,
                 workers: int | None = None):
        self.total = total
        self.count = already
        self.graded = 0
        self.failed = 0
        self.started = time.monotonic()
        self.log = log
        self.file = open(log_path, "a", encoding="utf-8")
        self.workers = workers
        self.bar = self.task = None
        if live and sys.stderr.isatty():
            self._start_bar()

    def _start_bar(self) -> None:
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn
        except ImportError:
            return
        self.bar = Bar(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[state]}"),
                       TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task("grading", total=self.total, completed=self.count, state=self._state())
        self.bar.start()

    def _state(self) -> str:
        left = self.total - self.count
        running = min(left, self.workers) if self.workers else ("?" if left else 0)  # a cluster's: unknown
        return f"running {running}, failed {self.failed}"

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text, highlight=False, markup=False)
        else:
            self.log(text)
        self.file.write(text + "\n")
        self.file.flush()

    def done(self, name: str, score: float, max_score: float, path: Path, failed: bool = False) -> None:
        """A submission graded: its line, and the bar moved on."""
        self.count += 1
        self.graded += 1
        self.failed += bool(failed)
        elapsed = time.monotonic() - self.started
        left = elapsed / self.graded * (self.total - self.count)
        self.line(f"[{self.count}/{self.total}] {name}: {score:g}/{max_score:g} -> {path}" +
                  (f" (about {left / 60:.1f} min left)" if self.count < self.total else ""))
        if self.bar is not None:
            self.bar.update(self.task, completed=self.count, state=self._state())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if not self.file.closed:
            self.file.close()
