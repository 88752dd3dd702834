"""Many submissions at once: local workers, or the tasks of a Dask cluster, grading the same way.

A batch is described by plain data (`Batch`): what the command line said. Any process that has
the grader installed turns it into the batch's context once (spec, expected file, the prepared
datasets, the evaluation images: `prepare_run`) and grades submissions with it, each in its own
processes under the same limits and isolation, whether that process is the `cnngrader grade`
command (N worker threads, each waiting on its own student's kernel) or a Dask worker (the task
`grade_one`). A result comes back as plain data (`results.result_to_data`); only the submitting
process writes files.

Each submission's inputs (its bytes and files beside it, the exercise spec, the expected file,
the mode and limits, the grader's own code) hash to `input_hash`, recorded in its results.json: a
second run on the same output folder skips every submission whose hash is unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import tempfile
import threading
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .evaluate import error_result
from .exercises import ExerciseSpec, load_spec
from . import grading
from .grading import Submission, prepare_run, spec_versions
from .reference import expected_path, load_expected
from .resources import exercises_dir, templates_dir
from .results import SubmissionResult
from .runner.sandbox import detect, worker_isolation
from .versions import visible_gpus

QUICK_KERNEL_BYTES = int(1.5 * 2**30)
FULL_KERNEL_BYTES = int(2.5 * 2**30)
"""What one submission in flight needs (its kernel with TensorFlow, the evaluation after it): a
worker runs no more at once than its memory holds."""


@dataclass(frozen=True)
class Batch:
    """What every submission of a batch is graded with, as plain data (it travels to Dask workers)."""

    exercise: str
    quick: bool = False
    artifacts: bool = False
    timeout: float | None = None
    data_dir: str | None = None
    memory_limit_bytes: int | None = 8 * 2**30
    isolation: str | None = None
    hidden: tuple[str, ...] = ()
    """Folders a jail hides besides the usual ones (the output folder, a hold-out set)."""
    keras: int | None = None
    """The Keras the submissions run under (2 or 3); None: the exercise's."""

    @property
    def mode(self) -> str:
        return "artifacts" if self.artifacts else "quick" if self.quick else "full"

    def to_data(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_data(cls, data: dict) -> "Batch":
        return cls(**{**data, "hidden": tuple(data.get("hidden", ()))})

    def kernel_bytes(self) -> int:
        return QUICK_KERNEL_BYTES if self.mode != "full" else FULL_KERNEL_BYTES


def submission_to_data(submission: Submission) -> dict:
    return {"name": submission.name, "path": str(submission.path) if submission.path else None,
            "problem": submission.problem, "artifacts": [str(path) for path in submission.artifacts]}


def submission_from_data(data: dict) -> Submission:
    return Submission(data["name"], Path(data["path"]) if data["path"] else None, data["problem"],
                      tuple(Path(path) for path in data["artifacts"]))


class Context:
    """A batch made ready in one process: grades any of its submissions, from any thread."""

    def __init__(self, batch: Batch, folder: str | None = None):
        self.batch = batch
        self.spec: ExerciseSpec = load_spec(batch.exercise)
        keras = batch.keras or self.spec.keras
        self.expected = load_expected(self.spec.reference, keras=keras)
        self.versions = spec_versions(self.spec, keras)
        # `folder`: a Dask worker's own directory, which Dask clears when a killed worker restarts.
        self._folder = tempfile.TemporaryDirectory(prefix="cnngrader-batch-", dir=folder)
        level = detect(batch.isolation)
        options = prepare_run(self.spec, Path(self._folder.name), batch.quick, batch.timeout, batch.data_dir,
                              batch.memory_limit_bytes, batch.artifacts, batch.keras)
        self.options = replace(options, isolation=level, hidden=tuple(Path(path) for path in batch.hidden))
        self.gpus = visible_gpus()
        self.threads: int | None = None
        """TensorFlow threads per run, when several runs share the cores (set by the executor)."""
        self._slots: queue.SimpleQueue = queue.SimpleQueue()
        self._slots.put((0, level))
        self._made = 1
        self._lock = threading.Lock()

    def grade(self, submission: Submission) -> SubmissionResult:
        """One submission's result; a grader bug becomes a `grader_error` result, never an exception."""
        slot = self._slot()
        try:
            return grading.grade_submission(submission, self.spec, self.expected, self._options(*slot))
        except Exception as error:  # noqa: BLE001 - our bug must not cost the rest of the class
            result = error_result(self.spec, submission.name, "unknown", f"{type(error).__name__}: {error}",
                                  self.options.mode, code="grader_error")
            return replace(result, meta={**result.meta, "versions": self.versions,
                                         "grader_traceback": traceback.format_exc()[-4000:]})
        finally:
            self._slots.put(slot)

    def _slot(self) -> tuple[int, object]:
        """A worker slot of this thread's own: a number (which GPU) and an isolation with a student
        uid of its own (after a run every process of its uid is killed: two runs at once must not
        share one)."""
        try:
            return self._slots.get_nowait()
        except queue.Empty:
            with self._lock:
                self._made += 1
                return self._made - 1, worker_isolation(self.options.isolation)

    def _options(self, index: int, isolation):
        """The slot's options: its isolation and, where GPUs are visible, its GPU (slot i gets GPU
        i mod n: one worker per GPU with as many workers as GPUs, GPUs shared past that), with
        memory growth on so that workers sharing a GPU do not each claim all of its memory."""
        threads = (("TF_NUM_INTRAOP_THREADS", str(self.threads)), ("OMP_NUM_THREADS", str(self.threads)),
                   ("TF_NUM_INTEROP_THREADS", "1")) if self.threads else ()
        if not self.gpus:
            return replace(self.options, isolation=isolation, device="CPU", environment=threads)
        number, model = self.gpus[index % len(self.gpus)]
        return replace(self.options, isolation=isolation, device=f"GPU {number} ({model})",
                       environment=(*threads, ("CUDA_VISIBLE_DEVICES", str(number)), ("TF_FORCE_GPU_ALLOW_GROWTH", "true")))

    def close(self) -> None:
        self._folder.cleanup()


@functools.lru_cache(maxsize=4)
def process_context(batch: Batch, folder: str | None = None) -> Context:
    """This process's context for a batch, made on its first submission (a Dask worker grades many)."""
    return Context(batch, folder)


def grade_one(batch: dict, submission: dict, folder: str | None = None) -> dict:
    """The task a Dask worker runs: one submission graded in this process's context, exactly as a
    local worker grades it; the result as plain data."""
    from .results import result_to_data

    context = process_context(Batch.from_data(batch), folder)
    return result_to_data(context.grade(submission_from_data(submission)))


# resuming ---------------------------------------------------------------------------------------

def input_hash(submission: Submission, batch: Batch, spec: ExerciseSpec) -> str:
    """What the submission's grade depends on: its bytes (and the model files beside it), the
    exercise's spec and expected file, the mode and limits, and the grader's own code."""
    digest = hashlib.sha256()
    digest.update(repr(sorted({**batch.to_data(), "hidden": None, "data_dir": None}.items())).encode())
    digest.update(grader_fingerprint().encode())
    expected = expected_path(spec.reference, batch.keras or spec.keras)
    for path in (exercises_dir() / spec.id / "exercise.toml", expected):
        digest.update(_file_digest(path).encode())
    digest.update(submission.name.encode())
    for path in ([submission.path] if submission.path else []) + list(submission.artifacts):
        digest.update(path.name.encode())
        digest.update(_file_digest(path).encode())
    digest.update(str(submission.problem).encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def grader_fingerprint() -> str:
    """A hash of the grader's installed code and templates: a changed grader regrades everything."""
    import grader

    digest = hashlib.sha256(grader.__version__.encode())
    for root in (Path(grader.__file__).parent, templates_dir()):
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and p.suffix in (".py", ".html", ".j2", ".css", ".js", ".toml") and "_bundle" not in p.parts):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    return digest.hexdigest()


def kept_result(folder: Path, digest: str) -> tuple[SubmissionResult, dict[str, bytes]] | None:
    """The result a previous run wrote into `folder` for the same inputs, with the files as they
    are; None when there is none, it was made from other inputs, or it cannot be read back."""
    import json

    from .results import result_from_data

    try:
        files = {name: (folder / name).read_bytes() for name in ("results.json", "report.html")}
        extra = json.loads(files["results.json"])["extra_data"]
        if extra["meta"].get("input_hash") != digest:
            return None
        return result_from_data(extra["result"]), files
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


@functools.lru_cache(maxsize=4)
def evaluation_images(batch: Batch):
    """The evaluation images (reports show them beside the model's predictions)."""
    from . import data

    spec = load_spec(batch.exercise)
    return data.evaluation_set(spec.dataset, batch.data_dir, spec.holdout_path).images


# running a batch ------------------------------------------------------------------------------------

class BatchUnavailable(RuntimeError):
    """The batch cannot be run as asked (a Dask scheduler that cannot be reached, workers with
    another grader): said to the user, exit status 2."""


def local_workers(requested: int | None, pending: int, kernel_bytes: int) -> tuple[int, str]:
    """How many submissions to grade at once here: as asked (default: the cores), no more than
    there are, and no more than the memory holds (a kernel each); and why, when fewer."""

    wanted = requested or os.cpu_count() or 1
    available = _available_memory()
    fits = max(1, available // kernel_bytes) if available else wanted
    count = max(1, min(wanted, pending or 1, fits))
    reason = ""
    if count < min(wanted, pending or 1):
        reason = (f" (memory for {fits}: {available / 2**30:.1f} GB available, "
                  f"about {kernel_bytes / 2**30:.1f} GB per submission)")
    return count, reason


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class LocalExecutor:
    """N worker threads in this process, each grading one submission at a time in processes of
    its own (a kernel forked from the warm server, an evaluation process), each with its own
    student uid. Results come back as they finish."""

    def __init__(self, batch: Batch, workers: int | None, line=print):
        self.batch, self.requested, self.line = batch, workers, line
        self.context: Context | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.context is not None:
            self.context.close()

    def __call__(self, pending: list[Submission]):
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        from .runner import warm

        if not pending:
            return
        self.context = self.context or Context(self.batch)
        count, reason = local_workers(self.requested, len(pending), self.batch.kernel_bytes())
        if count > 1 or reason:
            self.line(f"grading {len(pending)} submission(s) with {count} worker(s){reason}")
        if count > 1:  # runs at once share the cores rather than each starting a thread per core
            self.context.threads = max(1, (os.cpu_count() or 1) // count)
        pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="cnngrader-worker")
        waiting = list(pending)
        running: dict = {}
        try:
            while waiting or running:
                while waiting and len(running) < count:  # submitted one by one: the order is the class's
                    item = waiting.pop(0)
                    running[pool.submit(self.context.grade, item)] = item
                done, _ = wait(running, timeout=None, return_when=FIRST_COMPLETED)
                for future in [f for f in running if f in done]:
                    yield running.pop(future), future.result()
        except BaseException:
            waiting.clear()
            warm.kill_live_runs()  # the runs in flight end now; their threads return at once
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskBatch:
    """The same interface over a Dask cluster (grader.distributed), connected on first use: a
    batch with nothing left to grade needs no cluster."""

    def __init__(self, batch: Batch, address: str, line=print):
        self.batch, self.address, self.line, self.executor = batch, address, line, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.executor is not None:
            self.executor.close()

    def __call__(self, pending: list[Submission]):
        if not pending:
            return
        from .distributed import DaskExecutor, DaskUnavailable

        try:
            if self.executor is None:
                self.executor = DaskExecutor(self.address, self.batch)
                self.line(f"grading {len(pending)} submission(s) on the Dask cluster at {self.address}")
            yield from self.executor.run(pending)
        except DaskUnavailable as error:
            raise BatchUnavailable(str(error)) from None


def executor(batch: Batch, workers: int | None, scheduler: str | None, line=print):
    """A context manager whose value grades a list of submissions, yielding (submission, result)."""
    return DaskBatch(batch, scheduler, line) if scheduler else LocalExecutor(batch, workers, line)
