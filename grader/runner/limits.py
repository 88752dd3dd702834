"""Watching a submission's processes: memory of a process tree, and killing all of it."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path


def children_map() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree = children_map()
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(tree.get(current, []))
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    for member in descendants(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def kill_tree(pid: int) -> None:
    """SIGKILL a process, its process group and every descendant; quietly skip the gone."""
    members = descendants(pid)
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    for member in members:
        try:
            os.kill(member, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class MemoryWatch:
    """Polls a process tree's memory in a thread; past the limit it kills the tree and remembers."""

    def __init__(self, pid: int, limit_bytes: int | None, interval: float = 0.25):
        self.pid = pid
        self.limit = limit_bytes
        self.interval = interval
        self.exceeded = False
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            used = rss_bytes(self.pid)
            self.peak = max(self.peak, used)
            if self.limit and used > self.limit:
                self.exceeded = True
                kill_tree(self.pid)
                return


def format_bytes(count: int) -> str:
    return f"{count / 2**30:.1f} GB" if count >= 2**30 else f"{count / 2**20:.0f} MB"
