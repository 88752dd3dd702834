"""Throughput of grading a class: 20 short fashion_cnn notebooks, the usual way and with cnngrader.

The notebooks (`benchmarks/notebooks.py`: half the correct example, half broken ones cycling
through eight usual mistakes, each trained on 2,000 images for one epoch) are graded, in one run:

1. the usual way: `jupyter nbconvert --to notebook --execute --allow-errors` on each notebook,
   one after the other, each in a folder of its own, as an nbconvert/nbgrader-autograde script
   does; its kernel loads Fashion-MNIST from a KERAS_HOME served by `grader.data.prepare_keras_home`,
   as a student's machine would (MPLBACKEND=Agg). Afterwards each executed notebook is checked:
   errors in the broken notebooks that raise, none in the others;
2. `cnngrader grade FOLDER --exercise fashion_cnn --quick --workers 1`;
3. the same with `--workers 2`;
4. the same with `--workers 2 --scheduler tcp://127.0.0.1:PORT`, on a local Dask cluster this
   script starts (`distributed.cli.dask_scheduler` and two `dask_worker --nthreads 1 --nworkers 1`),
   waits for, and stops afterwards; skipped, with the reason, when `distributed` is missing;
5. (3) again on the same output folder: every submission is unchanged, so it should be kept
   and the run take seconds (counted: results.json files left untouched).

Printed: the wall time of each (for 4 the `grade` command only, not the cluster's start), the
ratio of (1) to each, whether the verdicts of 2, 3 and 4 are identical (per submission the
`score` and each test's name, status and score in results.json; a mismatch is printed by name),
per step the largest kernel peak the grader recorded (`extra_data.meta.peak_memory`) and the
peak of the summed resident memory of the command's whole process tree (for 4 with the Dask
processes' trees), polled from /proc every 0.2 s, and at most how many cores other processes
took meanwhile (a busy machine skews every ratio); then the targets, PASS or MISS: (3) at least
4x faster than (1), (2) at least 2x. Exit status 0 whatever the figures: a benchmark, not a test.
Not part of the tests: about 6 minutes on 2 cores.

    python benchmarks/throughput.py [--count 20] [--only 1,2,3,4] [--keep FOLDER] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from notebooks import write_notebooks

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))  # this tree's grader (grader.data), whatever is installed
EXERCISE = "fashion_cnn"
POLL_SECONDS = 0.2
TARGETS = (("3", 4.0), ("2", 2.0))
"""(step, how many times faster than step 1 it should be)."""
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


@dataclass
class Measured:
    """One step: what it cost and, for the grading steps, where it wrote its results."""

    label: str
    seconds: float = 0.0
    peak_tree_bytes: int = 0
    others_cpu: float = 0.0
    """CPU seconds the machine spent on other processes during the step."""
    out: Path | None = None
    note: str = ""
    failed: list[str] = field(default_factory=list)
    """Why a command ended badly (exit status, time limit), with the end of its log."""


class TreeWatch:
    """While it runs, the peak of the summed resident memory of the process trees under `roots`
    (commands add themselves as they start), polled from /proc every POLL_SECONDS; and, at the
    end, `others_cpu`: at most how many CPU seconds the machine spent on anything else meanwhile
    (which skews every ratio). Ours is the larger of two undercounts: the CPU time each process
    of the trees had used when last polled (a process's last 0.2 s, or a shorter life, is
    missed), and what this process and the children it reaped used (getrusage, which misses
    processes that were orphaned and reaped by init) plus, polled, the trees under `live`
    (processes that outlive the watch, such as the Dask cluster's)."""

    def __init__(self, roots: list[int], live: list[int] = ()):
        self.roots = list(roots) + list(live)
        self.live = list(live)
        self.peak = 0
        self.others_cpu = 0.0
        self._ticks: dict[int, int] = {}
        self._live_ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> TreeWatch:
        processes = scan_processes()
        # What the processes alive now used before the watch is not ours to count.
        self._before = {pid: processes[pid][2] for pid in descendants(processes, self.roots)}
        self._start = (busy_ticks(), own_cpu_seconds())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        machine = (busy_ticks() - self._start[0]) / CLOCK_TICKS
        reaped = own_cpu_seconds() - self._start[1] + sum(self._live_ticks.values()) / CLOCK_TICKS
        polled = sum(self._ticks.values()) / CLOCK_TICKS
        self.others_cpu = max(0.0, machine - max(reaped, polled))

    def _poll(self) -> None:
        while not self._stop.is_set():
            processes = scan_processes()
            tree, live = descendants(processes, self.roots), descendants(processes, self.live)
            self.peak = max(self.peak, sum(processes[pid][1] for pid in tree))
            for pid in tree:
                used = processes[pid][2] - self._before.get(pid, 0)
                self._ticks[pid] = max(self._ticks.get(pid, 0), used)
                if pid in live:
                    self._live_ticks[pid] = self._ticks[pid]
            self._stop.wait(POLL_SECONDS)


def scan_processes() -> dict[int, tuple[int, int, int]]:
    """Every process in /proc: pid -> (parent pid, resident bytes, CPU ticks used)."""
    processes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            processes[int(entry.name)] = (int(fields[1]), int(fields[21]) * PAGE_BYTES,
                                          int(fields[11]) + int(fields[12]))
        except (OSError, IndexError, ValueError):
            continue
    return processes


def descendants(processes: dict[int, tuple[int, int, int]], roots: list[int]) -> set[int]:
    """`roots` that are alive, and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    seen, frontier = set(), [pid for pid in roots if pid in processes]
    while frontier:
        pid = frontier.pop()
        if pid not in seen:
            seen.add(pid)
            frontier.extend(children.get(pid, ()))
    return seen


def busy_ticks() -> int:
    """CPU ticks the whole machine has spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as handle:
        values = [int(value) for value in handle.readline().split()[1:9]]
    return sum(values) - values[3] - values[4]


def own_cpu_seconds() -> float:
    """CPU time of this process and of the children it has reaped, with what they reaped."""
    mine, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + reaped.ru_utime + reaped.ru_stime


def run_command(command: list[str], log: Path, limit: float, env: dict | None = None,
                watch: TreeWatch | None = None, cwd: Path = ROOT) -> tuple[float, str | None]:
    """Run `command` in a session of its own, its output into `log`, its tree's memory watched
    by `watch`; stop the session past `limit` seconds. Returns (wall seconds, what went wrong)."""
    with open(log, "ab") as sink:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        if watch is not None:
            watch.roots.append(process.pid)
        try:
            returncode = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            stop_session(process)
            return time.monotonic() - started, f"stopped after {limit:.0f} s: {log_tail(log)}"
        finally:
            if watch is not None:
                watch.roots.remove(process.pid)
    seconds = time.monotonic() - started
    return seconds, (f"exit status {returncode}: {log_tail(log)}" if returncode else None)


def stop_session(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the session `process` leads (started with start_new_session), SIGKILL after `grace`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def log_tail(log: Path, lines: int = 8) -> str:
    text = log.read_text(errors="replace").strip().splitlines()
    return "\n    " + "\n    ".join(text[-lines:]) if text else "(no output)"


def grader_env() -> dict:
    """The environment of every grader process: the cnngrader of this tree, whatever is installed."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def nbconvert_command() -> list[str]:
    """`jupyter` beside this Python (not a version manager's shim), else the one on PATH."""
    beside = Path(sys.executable).parent / "jupyter"
    if beside.is_file():
        return [str(beside), "nbconvert"]
    found = shutil.which("jupyter")
    return [found, "nbconvert"] if found else [sys.executable, "-m", "nbconvert"]


def run_nbconvert(notebooks: list[Path], workdir: Path, timeout: float, limit: float) -> Measured:
    """Step 1: each notebook executed by nbconvert in a folder of its own, one after the other."""
    from grader.data import prepare_keras_home

    keras_home, outputs = workdir / "nbconvert/keras_home", workdir / "nbconvert/executed"
    served = prepare_keras_home(keras_home, None)
    env = {**os.environ, "KERAS_HOME": str(keras_home), "MPLBACKEND": "Agg"}
    step = Measured("nbconvert --execute, one after the other", out=outputs)
    log = workdir / "logs/1-nbconvert.log"
    each: list[float] = []
    with TreeWatch([]) as watch:
        for notebook in notebooks:
            folder = workdir / "nbconvert/run" / notebook.stem
            folder.mkdir(parents=True)
            shutil.copy(notebook, folder)
            seconds, problem = run_command(
                [*nbconvert_command(), "--to", "notebook", "--execute", "--allow-errors",
                 f"--ExecutePreprocessor.timeout={timeout:g}", "--output-dir", str(outputs),
                 str(folder / notebook.name)], log, limit, env=env, watch=watch, cwd=folder)
            step.seconds += seconds
            each.append(seconds)
            if problem:
                step.failed.append(f"{notebook.name}: {problem}")
    step.peak_tree_bytes, step.others_cpu = watch.peak, watch.others_cpu
    step.note = (f"per notebook {min(each):.1f} / {statistics.median(each):.1f} / {max(each):.1f} s "
                 f"(min / median / max); data served: {', '.join(f'{k} {v}' for k, v in served.items())}; "
                 + check_executed(notebooks, outputs))
    return step


def check_executed(notebooks: list[Path], outputs: Path) -> str:
    """Whether each executed notebook raised where its kind raises, and only there."""
    wrong = []
    for notebook in notebooks:
        executed = outputs / notebook.name
        if not executed.is_file():
            wrong.append(f"{notebook.name} (not written)")
            continue
        errors = [output.ename for cell in nbformat.read(executed, as_version=4).cells
                  for output in cell.get("outputs", []) if output.output_type == "error"]
        if bool(errors) != nbformat.read(notebook, as_version=4).metadata.benchmark.raises:
            wrong.append(f"{notebook.name} ({', '.join(errors) or 'no error'})")
    return ("every notebook ran, errors only where expected" if not wrong
            else "UNEXPECTED: " + "; ".join(wrong))


def run_grade(label: str, folder: Path, out: Path, log: Path, flags: list[str], timeout: float,
              limit: float, extra: list[int] = ()) -> Measured:
    """`cnngrader grade` of `folder` into `out` with `flags`; `extra` pids count in its memory."""
    command = [sys.executable, "-m", "grader.cli", "grade", str(folder), "--exercise", EXERCISE,
               "--quick", "--timeout", f"{timeout:g}", "--out", str(out), *flags]
    with TreeWatch([], live=list(extra)) as watch:
        seconds, problem = run_command(command, log, limit, env=grader_env(), watch=watch)
    return Measured(label, seconds, watch.peak, watch.others_cpu, out, failed=[problem] if problem else [])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(workdir: Path, workers: int = 2) -> tuple[str, list[subprocess.Popen]]:
    """A Dask scheduler on 127.0.0.1 and `workers` single-threaded workers, each in a session
    of its own, running this tree's grader; returns when every worker has registered."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    logs = workdir / "logs"
    python = [sys.executable, "-m"]
    commands = [[*python, "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                 "--port", address.rsplit(":", 1)[1], "--no-dashboard"]]
    commands += [[*python, "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
                  "--no-dashboard", "--local-directory", str(workdir / f"dask/worker-{n}")]
                 for n in range(workers)]
    processes = []
    for n, command in enumerate(commands):
        sink = open(logs / f"4-dask-{'scheduler' if n == 0 else f'worker-{n}'}.log", "wb")
        processes.append(subprocess.Popen(command, cwd=ROOT, env=grader_env(), stdin=subprocess.DEVNULL,
                                          stdout=sink, stderr=subprocess.STDOUT, start_new_session=True))
        sink.close()
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
    except Exception:
        stop_cluster(processes)
        raise
    return address, processes


def stop_cluster(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        stop_session(process)


def run_dask(folder: Path, workdir: Path, timeout: float, limit: float) -> Measured:
    """Step 4, or why it was skipped."""
    label = "cnngrader --workers 2 --scheduler (2 Dask workers)"
    if importlib.util.find_spec("distributed") is None:
        return Measured(label, note="skipped: `distributed` is not importable (pip install 'cnngrader[dask]')")
    try:
        address, processes = start_cluster(workdir)
    except Exception as error:  # noqa: BLE001 - any failure to start the cluster skips the step
        return Measured(label, note=f"skipped: the local Dask cluster did not start ({type(error).__name__}: "
                                    f"{error}; see {workdir / 'logs'})")
    try:
        step = run_grade(label, folder, workdir / "out-4", workdir / "logs/4-grade.log",
                         ["--workers", "2", "--scheduler", address], timeout, limit,
                         extra=[process.pid for process in processes])
    finally:
        stop_cluster(processes)
    step.note = f"scheduler {address}; memory includes the scheduler's and workers' trees"
    return step


def rerun(folder: Path, previous: Measured, workdir: Path, timeout: float, limit: float) -> Measured:
    """Step 5: step 3 again on its output folder; counts the results.json files left untouched."""
    before = {path: path.stat().st_mtime_ns for path in previous.out.glob("*/results.json")}
    step = run_grade("rerun of 3 on its output folder", folder, previous.out, workdir / "logs/5-rerun.log",
                     ["--workers", "2"], timeout, limit)
    kept = sum(path.exists() and path.stat().st_mtime_ns == mtime for path, mtime in before.items())
    step.note = f"{kept} of {len(before)} results.json untouched (kept)"
    return step


def verdicts(out: Path, names: list[str]) -> dict[str, object]:
    """Per submission its score and (test name, status, score) list, or a note of what is missing."""
    found: dict[str, object] = {}
    for name in names:
        path = out / name / "results.json"
        try:
            results = json.loads(path.read_text())
            found[name] = (results["score"], [(test["name"], test.get("status"), test.get("score"))
                                              for test in results["tests"]])
        except (OSError, ValueError, KeyError, TypeError) as error:
            found[name] = f"unreadable ({type(error).__name__})"
    return found


def kernel_peak(out: Path) -> int | None:
    """The largest `extra_data.meta.peak_memory` (e.g. "1.2 GB") of the results.json under `out`."""
    peaks = []
    for path in out.glob("*/results.json"):
        try:
            text = json.loads(path.read_text())["extra_data"]["meta"].get("peak_memory") or ""
        except (OSError, ValueError, KeyError, TypeError):
            continue
        parsed = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", str(text))
        if parsed and parsed.group(2).upper() in UNITS:
            peaks.append(int(float(parsed.group(1)) * UNITS[parsed.group(2).upper()]))
    return max(peaks, default=None)


def compare_verdicts(steps: dict[str, Measured], names: list[str]) -> list[str]:
    """Lines saying whether steps 2, 3 and 4 (those that completed) gave every submission the
    same verdict, and for each that differs, the tests that differ from the first step's."""
    graded = {key: verdicts(step.out, names) for key, step in steps.items()
              if key in ("2", "3", "4") and step.out is not None and not step.failed}
    left_out = [key for key in ("2", "3", "4") if key in steps and key not in graded]
    note = f" (not compared, skipped or failed: {', '.join(left_out)})" if left_out else ""
    if len(graded) < 2:
        return [f"verdicts: fewer than two of the steps 2, 3, 4 completed; nothing to compare{note}"]
    keys = ", ".join(graded)
    mismatched = [name for name in names
                  if len({repr(found[name]) for found in graded.values()}) > 1
                  or any(isinstance(found[name], str) for found in graded.values())]
    if not mismatched:
        return [f"verdicts of {keys}: identical for all {len(names)} submissions{note}"]
    lines = [f"verdicts of {keys}: MISMATCH for {len(mismatched)} of {len(names)}: {', '.join(mismatched)}{note}"]
    first_key = next(iter(graded))
    for name in mismatched:
        reference = graded[first_key][name]
        lines.append(f"  {name} ({first_key}): {summary(reference)}")
        lines += [f"  {name} ({key}): {describe_difference(reference, found[name])}"
                  for key, found in graded.items() if key != first_key]
    return lines


def summary(verdict: object) -> str:
    return verdict if isinstance(verdict, str) else f"score {verdict[0]:g}"


def describe_difference(reference: object, found: object) -> str:
    """`found`'s verdict, its tests only where they differ from `reference`'s."""
    if isinstance(found, str) or isinstance(reference, str):
        return summary(found)
    differing = [test for test in found[1] if test not in reference[1]]
    missing = [test[0] for test in reference[1] if test[0] not in {name for name, _, _ in found[1]}]
    parts = [f"score {found[0]:g}"] + [f"{name}: {status} {score}" for name, status, score in differing]
    return "; ".join(parts + ([f"missing tests: {', '.join(missing)}"] if missing else []))


def size(count: int | None) -> str:
    return "-" if not count else f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"


def print_table(steps: dict[str, Measured], names: list[str]) -> None:
    baseline = steps["1"].seconds if "1" in steps and not steps["1"].failed else None
    print(f"\n{'step':<56} {'wall s':>8} {'(1)/this':>9} {'kernel peak':>12} {'tree RSS peak':>14} "
          f"{'others CPU':>11}")
    for key, step in steps.items():
        ran = step.seconds > 0
        ratio = "failed" if step.failed else f"{baseline / step.seconds:.2f}x" if baseline and ran else "-"
        peak = size(kernel_peak(step.out)) if step.out is not None and key != "1" else "-"
        wall = f"{step.seconds:8.1f}" if ran else f"{'-':>8}"
        others = f"{step.others_cpu / step.seconds:.2f} cores" if ran else "-"
        print(f"{key} {step.label:<54} {wall} {ratio:>9} {peak:>12} {size(step.peak_tree_bytes):>14} {others:>11}")
        for line in ([step.note] if step.note else []) + step.failed:
            print(f"    {line}")
    print("\n" + "\n".join(compare_verdicts(steps, names)))
    for key, factor in TARGETS:
        if key not in steps or not steps[key].seconds or baseline is None:
            print(f"target: ({key}) at least {factor:g}x faster than (1): not measured")
            continue
        ratio = baseline / steps[key].seconds
        print(f"target: ({key}) at least {factor:g}x faster than (1): {ratio:.2f}x "
              f"{'PASS' if ratio >= factor and not steps[key].failed else 'MISS'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="notebooks in the class (default: 20)")
    parser.add_argument("--only", default="1,2,3,4", help="steps to run, e.g. 1,3 (default: 1,2,3,4; "
                                                          "the rerun goes with 3)")
    parser.add_argument("--keep", type=Path, default=None, metavar="FOLDER",
                        help="work in FOLDER and keep everything there (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="per-cell limit for nbconvert and cnngrader alike (default: 60, --quick's); "
                             "a whole step is stopped after COUNT times as long, plus 2 minutes")
    args = parser.parse_args()
    only = set(args.only.replace(" ", "").split(","))
    workdir = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="cnngrader-throughput-"))
    try:
        return benchmark(workdir, args.count, only, args.timeout)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def benchmark(workdir: Path, count: int, only: set[str], timeout: float) -> int:
    for stale in ("notebooks", "nbconvert", "logs", "dask", "out-2", "out-3", "out-4"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    (workdir / "logs").mkdir(parents=True)
    folder = workdir / "notebooks"
    notebooks = write_notebooks(folder, count)
    names = [path.stem for path in notebooks]
    limit = count * timeout + 120
    print(f"{count} notebooks of {EXERCISE} in {folder}; {os.cpu_count()} cores; logs in {workdir / 'logs'}",
          flush=True)
    steps: dict[str, Measured] = {}
    plan = {
        "1": lambda: run_nbconvert(notebooks, workdir, timeout, limit),
        "2": lambda: run_grade("cnngrader grade --quick --workers 1", folder, workdir / "out-2",
                               workdir / "logs/2-grade.log", ["--workers", "1"], timeout, limit),
        "3": lambda: run_grade("cnngrader grade --quick --workers 2", folder, workdir / "out-3",
                               workdir / "logs/3-grade.log", ["--workers", "2"], timeout, limit),
        "4": lambda: run_dask(folder, workdir, timeout, limit),
        "5": lambda: rerun(folder, steps["3"], workdir, timeout, limit),
    }
    for key, step in plan.items():
        if key in only or (key == "5" and "3" in only):
            print(f"({key}) ...", end=" ", flush=True)
            steps[key] = step()
            print(f"{steps[key].seconds:.1f} s" if steps[key].seconds else steps[key].note, flush=True)
    print_table(steps, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
