"""Watching a submission's processes: memory of a process tree, and killing all of it."""

from __future__ import annotations

import os
import signal
import threading
import time
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


def rss_bytes(pid: int, skip_root: bool = False) -> int:
    """Resident memory of a process and all its descendants (without the process itself with
    `skip_root`: a warm run's first process, whose pages are the warm server's)."""
    total = 0
    for member in descendants(pid)[1 if skip_root else 0:]:
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
    kill_all(members)


def kill_all(pids) -> None:
    """SIGKILL each process; the ones already gone (or not ours to kill) are skipped."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class MemoryWatch:
    """Polls a process tree's memory, and the size of the folders it writes, in a thread; past a
    limit it kills the tree and remembers which limit it was.

    Where a cgroup caps memory the kernel enforces the limit exactly; this watch is then the
    second line (and the only one on a machine without cgroups). Polling every 0.05 s, an
    allocation faster than that can pass the limit for a moment before it is killed."""

    def __init__(self, pid: int | tuple[int, bool], limit_bytes: int | None, interval: float = 0.05,
                 folders: tuple = (), disk_limit: int | None = None, disk_interval: float = 1.0):
        self.pid, self.skip_root = pid if isinstance(pid, tuple) else (pid, False)
        self.limit = limit_bytes
        self.interval = interval
        self.folders = tuple(folders)
        self.disk_limit = disk_limit
        self.disk_interval = disk_interval
        self.exceeded = False
        self.disk_exceeded = False
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        # Once more at the end: a run that writes faster than the watch polls, then ends, has
        # still written what it wrote (its files are still there until its workspace goes).
        if not self.exceeded and not self.disk_exceeded and self.disk_limit and self.folders:
            self.disk_exceeded = folder_bytes(self.folders, self.disk_limit) > self.disk_limit

    def _run(self) -> None:
        next_disk = time.monotonic() + self.disk_interval
        while not self._stop.wait(self.interval):
            used = rss_bytes(self.pid, self.skip_root)
            self.peak = max(self.peak, used)
            if self.limit and used > self.limit:
                self.exceeded = True
                kill_tree(self.pid)
                return
            if self.disk_limit and self.folders and time.monotonic() >= next_disk:
                next_disk = time.monotonic() + self.disk_interval
                if folder_bytes(self.folders, self.disk_limit) > self.disk_limit:
                    self.disk_exceeded = True
                    kill_tree(self.pid)
                    return



def folder_bytes(folders, stop_above: int | None = None) -> int:
    """Bytes the files under `folders` take (a file counts at least 4 KB, so a flood of empty files
    counts too); the walk stops once past `stop_above`."""
    total = 0
    for folder in folders:
        for current, _, files in os.walk(folder):
            for name in files:
                try:
                    total += max(4096, os.lstat(os.path.join(current, name)).st_blocks * 512)
                except OSError:
                    continue
                if stop_above is not None and total > stop_above:
                    return total
    return total


def format_bytes(count: int) -> str:
    if count >= 2**30:
        return f"{count / 2**30:.1f} GB"
    return f"{count / 2**20:.0f} MB" if count >= 2**20 else f"{count / 2**10:.0f} KB"


class CappedReader:
    """Drains a pipe in a thread while it streams, keeping its first and last `keep` bytes: a
    process that prints without end costs the grader no more than that."""

    def __init__(self, stream, keep: int = 32 * 1024):
        self.stream = stream
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                chunk = os.read(self.stream.fileno() if hasattr(self.stream, "fileno") else self.stream, 65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self.total += len(chunk)
            if len(self.head) < self.keep:
                room = self.keep - len(self.head)
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail += chunk
                del self.tail[:-self.keep]

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    @property
    def cut(self) -> int:
        """Bytes dropped between the head and the tail."""
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if not self.tail:
            return head
        middle = f"\n[cnngrader: {format_bytes(self.cut)} of output cut here]\n" if self.cut else ""
        return head + middle + self.tail.decode("utf-8", "replace")
