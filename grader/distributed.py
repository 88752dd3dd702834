"""Grading on a Dask cluster (`cnngrader grade --scheduler tcp://HOST:8786`): one task per submission.

How it works:
- The submitter connects to the scheduler, waits for a worker, and asks every worker for its
  grader (`grader.__version__` and `grader.parallel.grader_fingerprint()`, a hash of the code and
  templates). The question is `eval` of a fixed expression, so it needs nothing installed to be
  asked: a worker without the grader answers with its ImportError. A worker that cannot import
  the grader, or has another version or other code, stops the batch with `DaskUnavailable`
  naming it: it would grade differently.
- Each worker gets a Dask resource `cnngrader`: its number of grading slots, `slots(nthreads,
  memory_limit, kernel_bytes)`, because a submission in flight needs a kernel with TensorFlow and
  an evaluation process after it (`Batch.kernel_bytes()`), more than cores alone would allow. A
  worker plugin (`GradingSlots`) sets it on every worker present and, since the scheduler hands
  its worker plugins to every worker that joins, on every worker started later (a nanny's
  restart included); it gives no slots to a worker whose grader differs from the submitter's, so
  such a worker is never sent a submission. Every task asks for `resources={"cnngrader": 1}`.
  The plugin stays registered on the scheduler after the batch (the next batch replaces it).
- A task carries the submission's bytes and those of the model files beside it: workers need
  nothing of the submitter's filesystem. On the worker, `grade_shipped` writes them into a fresh
  temporary folder under the same file names, grades them with `grader.parallel.grade_one` (the
  same code a local worker runs), removes the folder, and returns the result as plain data with
  the worker's address in `meta["dask_worker"]`. Only the submitting process writes files.
- A worker that dies while grading (killed, out of memory, its machine gone) costs a retry: the
  scheduler gives its tasks to another worker, up to `distributed.scheduler.allowed-failures`
  deaths per task (3 by default; these do not count against `retries`, which covers exceptions
  raised by the task itself). Every task the dead worker held counts a death, graded or only
  queued there: `run` sends tasks two per grading slot, so a worker holds few. A task that still
  fails, a task cancelled, or a batch left with no worker able to grade for `lost_timeout`
  seconds, ends as a `grader_error` result for those submissions, with a plain message (what
  Dask said, or the worker's traceback, in `meta["grader_traceback"]`, as a local grader bug's
  is); the rest of the class is graded as usual.
"""

from __future__ import annotations

import functools
import queue
import shutil
import tempfile
import time
import traceback
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from .evaluate import error_result
from .exercises import load_spec
from .grading import Submission, spec_versions
from .parallel import Batch, grade_one, grader_fingerprint, submission_to_data
from .results import SubmissionResult, result_from_data

RESOURCE = "cnngrader"
PLUGIN_NAME = "cnngrader-slots"
TASK_RETRIES = 2
POLL_SECONDS = 5.0
INSTALL_HINT = "pip install 'cnngrader[dask]'"
_IDENTITY = ("{'version': __import__('grader').__version__, "
             "'fingerprint': __import__('grader.parallel', fromlist=['grader_fingerprint']).grader_fingerprint()}")
"""Asked of every worker with `eval`, a builtin: asking needs nothing of ours on the worker."""


class DaskUnavailable(RuntimeError):
    """The batch cannot be graded on this Dask cluster: no `distributed`, no scheduler, no worker,
    or a worker with another grader. The message says which, for `cnngrader: <message>`."""


def slots(nthreads: int, memory_limit: int | None, kernel_bytes: int) -> int:
    """How many submissions a worker grades at once: no more than its threads, nor than its
    memory holds kernels (at least one; a worker without a memory limit: its threads)."""
    if not memory_limit:
        return max(1, nthreads)
    return max(1, min(nthreads, memory_limit // kernel_bytes))


def check_workers(identities: dict, version: str, fingerprint: str) -> None:
    """Raise DaskUnavailable naming every worker whose grader is not this one (`identities`: what
    each worker answered, or the exception it raised)."""
    problems = []
    for worker, identity in sorted(identities.items()):
        if isinstance(identity, BaseException):
            problems.append(f"the Dask worker {worker} cannot import the grader "
                            f"({type(identity).__name__}: {identity}); install cnngrader {version} on it")
        elif not isinstance(identity, dict) or identity.get("version") != version:
            found = identity.get("version") if isinstance(identity, dict) else identity
            problems.append(f"the Dask worker {worker} has cnngrader {found}, this grader is {version}")
        elif identity.get("fingerprint") != fingerprint:
            problems.append(f"the Dask worker {worker} has cnngrader {version} with other code or templates "
                            f"(fingerprint {str(identity.get('fingerprint'))[:12]}, here {fingerprint[:12]}); "
                            f"install the same grader on every worker")
    if problems:
        raise DaskUnavailable("; ".join(problems))


def ship(submission: Submission) -> dict:
    """A submission as a task carries it: its data with bare file names, and the files' bytes.
    A file the submitter cannot read is shipped as the submission's problem (graded as unreadable)."""
    data = submission_to_data(submission)
    paths = ([submission.path] if submission.path else []) + list(submission.artifacts)
    names = [path.name for path in paths]
    if len(set(names)) < len(names):
        return {"submission": {**data, "path": None, "artifacts": [],
                               "problem": f"two of the files of {submission.name} have the same name"}, "files": {}}
    try:
        files = {path.name: path.read_bytes() for path in paths}
    except OSError as error:
        return {"submission": {**data, "path": None, "artifacts": [],
                               "problem": f"cannot read {Path(error.filename or '').name}: {error.strerror}"},
                "files": {}}
    return {"submission": {**data, "path": submission.path.name if submission.path else None,
                           "artifacts": [path.name for path in submission.artifacts]}, "files": files}


def grade_shipped(batch: dict, shipped: dict) -> dict:
    """The Dask task: write the shipped files into a folder of their own, grade them with
    `grade_one` exactly as a local worker does, remove the folder; the result as plain data."""
    # In the worker's own folder: a worker killed mid-task leaves it behind, and the next worker
    # started on that machine clears the folders of dead workers.
    folder = Path(tempfile.mkdtemp(prefix="cnngrader-shipped-", dir=_worker_folder()))
    try:
        for name, content in shipped["files"].items():
            (folder / Path(name).name).write_bytes(content)
        submission = shipped["submission"]
        located = {**submission, "path": str(folder / submission["path"]) if submission["path"] else None,
                   "artifacts": [str(folder / name) for name in submission["artifacts"]]}
        result = grade_one(batch, located, _worker_folder())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {**result, "meta": {**result["meta"], "dask_worker": _worker_address()}}


def _worker_address() -> str | None:
    worker = _worker()
    return worker.address if worker is not None else None


def _worker_folder() -> str | None:
    worker = _worker()
    return worker.local_directory if worker is not None else None


def _worker():
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:  # not in a Dask task (a test calling the function directly)
        return None


class DaskExecutor:
    """A batch's submissions graded as tasks of a Dask cluster; see the module's docstring."""

    def __init__(self, address: str, batch: Batch, connect_timeout: float = 30, lost_timeout: float = 300):
        distributed = _import_distributed()
        self.address = address
        self.batch = batch
        self.lost_timeout = lost_timeout
        self.spec = load_spec(batch.exercise)
        try:
            _check_address(address)
            self.client = distributed.Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {address}: {error}") from None
        try:
            self._prepare_workers(connect_timeout)
        except BaseException:
            self.client.close()
            raise
        self._token = uuid.uuid4().hex[:12]

    def _prepare_workers(self, connect_timeout: float) -> None:
        import grader

        try:
            self.client.wait_for_workers(1, timeout=connect_timeout)
        except TimeoutError:
            raise DaskUnavailable(f"the Dask scheduler at {self.address} has no worker (waited {connect_timeout:g} s); "
                                  f"start one with `dask worker {self.address}`") from None
        identities = self.client.run(eval, _IDENTITY, on_error="return")
        check_workers(identities, grader.__version__, grader_fingerprint())
        plugin = _grading_slots_class()(self.batch.kernel_bytes(), grader_fingerprint())
        self.client.register_plugin(plugin, name=PLUGIN_NAME)

    def run(self, submissions: list[Submission]) -> Iterator[tuple[Submission, SubmissionResult]]:
        """Every submission's result, as each completes (in any order). Tasks are sent a few at a
        time, two per grading slot of the cluster: the scheduler never holds the whole class's
        files, a worker that joins gets work at once, and a worker that dies takes with it only
        the tasks it was grading or about to grade."""
        batch = self.batch.to_data()
        waiting = deque(enumerate(submissions))
        in_flight: dict = {}
        finished: queue.SimpleQueue = queue.SimpleQueue()
        stalled_since = None
        try:
            while waiting or in_flight:
                capacity = self._capacity()
                while waiting and len(in_flight) < 2 * capacity:
                    index, submission = waiting.popleft()
                    future = self.client.submit(grade_shipped, batch, ship(submission), pure=False,
                                                key=f"cnngrader-{self._token}-{index}", resources={RESOURCE: 1},
                                                retries=TASK_RETRIES)
                    future.add_done_callback(finished.put)
                    in_flight[future] = submission
                stalled_since = None if capacity else stalled_since or time.monotonic()
                if stalled_since is not None and time.monotonic() - stalled_since > self.lost_timeout:
                    break
                try:
                    future = finished.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
                submission = in_flight.pop(future, None)
                if submission is not None:
                    yield submission, task_result(future, submission, self.spec, self.batch.mode)
            for submission in [*in_flight.values(), *(item for _, item in waiting)]:
                yield submission, grader_error(
                    self.spec, submission, self.batch.mode,
                    f"no Dask worker was left to grade it (none for {self.lost_timeout:g} s)",
                    f"no Dask worker with a grading slot for {self.lost_timeout:g} s")
        finally:
            if in_flight:
                self.client.cancel(list(in_flight))

    def _capacity(self) -> int:
        """The cluster's grading slots now (0 when no worker can grade, or the scheduler is gone)."""
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
        except Exception:  # noqa: BLE001 - an unreachable scheduler has no slots
            return 0
        return int(sum(info.get("resources", {}).get(RESOURCE, 0) for info in workers.values()))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def task_result(future, submission: Submission, spec, mode: str) -> SubmissionResult:
    """A finished task's result; a task that failed (its workers lost, an exception raised in
    every try, cancelled) is a `grader_error` result for its submission."""
    from distributed import KilledWorker

    try:
        return result_from_data(future.result())
    except KilledWorker as error:
        deaths = error.allowed_failures + 1
        message = (f"the Dask worker grading it was lost: {deaths} worker{'s' if deaths > 1 else ''} died while "
                   "grading it (killed, out of memory, or the machine gone)")
        return grader_error(spec, submission, mode, message, str(error))
    except Exception as error:  # noqa: BLE001 - a failed task costs one submission, not the class
        if future.status == "cancelled":
            message = "the Dask scheduler cancelled its task (the connection to the scheduler was lost)"
        else:
            message = f"grading it failed on the Dask worker: {type(error).__name__}: {error}"
        return grader_error(spec, submission, mode, message,
                            "".join(traceback.format_exception(type(error), error, error.__traceback__)))


def grader_error(spec, submission: Submission, mode: str, message: str, detail: str) -> SubmissionResult:
    """A `grader_error` result saying `message`; `detail` (what Dask said, the worker's traceback)
    goes in `meta["grader_traceback"]`, where a local worker puts its traceback, for the
    instructor's log."""
    result = error_result(spec, submission.name, "unknown", message, mode, code="grader_error")
    return replace(result, meta={**result.meta, "versions": spec_versions(spec), "grader_traceback": detail[-4000:]})


def _check_address(address: str) -> None:
    """ValueError for an address no Dask transport takes (a Client made with one is left half
    started and times out again when it is collected)."""
    from distributed.comm.addressing import parse_address
    from distributed.comm.registry import get_backend

    get_backend(parse_address(address)[0])


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise DaskUnavailable(f"grading on a Dask cluster needs the `distributed` package: {INSTALL_HINT}") from None
    return distributed


@functools.cache
def _grading_slots_class():
    """`GradingSlots`, made on first use: it is a `distributed.WorkerPlugin`, and importing this
    module must not need `distributed`."""
    from distributed import WorkerPlugin

    class GradingSlots(WorkerPlugin):
        """Gives the worker its grading slots as the resource `cnngrader` (none when its grader
        is not the submitter's), on every worker present and every worker that joins later."""

        def __init__(self, kernel_bytes: int, fingerprint: str):
            self.kernel_bytes = kernel_bytes
            self.fingerprint = fingerprint

        async def setup(self, worker) -> None:
            try:
                same = grader_fingerprint() == self.fingerprint
            except Exception:  # noqa: BLE001 - a worker that cannot hash its grader does not grade
                same = False
            count = slots(worker.state.nthreads, worker.memory_manager.memory_limit, self.kernel_bytes) if same else 0
            await worker.set_resources(**{RESOURCE: count})
            _reconsider_waiting_tasks(worker)

    GradingSlots.__module__ = __name__
    GradingSlots.__qualname__ = "GradingSlots"
    return GradingSlots


def _reconsider_waiting_tasks(worker) -> None:
    """Have the scheduler look again at tasks that had no worker to run on. It does so when a
    worker joins or becomes running, not when a worker's resources change, and a worker joining
    gets its plugins (its slots) only after it joined: the tasks that had waited for it would
    wait on. A pause and resume, sent after the scheduler took the new resources, is the event
    that makes it look."""
    from distributed.core import Status

    if worker.status == Status.running:
        worker.status = Status.paused
        worker.status = Status.running


def __getattr__(name: str):
    # Pickle finds the plugin's class by name here, on the submitter and on every worker.
    if name == "GradingSlots":
        return _grading_slots_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
