"""Grading on a Dask cluster (grader/distributed.py): a real scheduler and two real workers on this
machine, each its own process, grading example notebooks in quick mode; the verdicts must be the
local ones, a worker killed mid-task must cost only a retry, and a cluster that cannot grade must
say why. The slot arithmetic and the worker check are pure and tested without a cluster."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.distributed import DaskExecutor, DaskUnavailable, check_workers, slots, task_result
from grader.grading import Submission
from grader.parallel import QUICK_KERNEL_BYTES, Batch, Context

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "submissions" / "fashion_cnn"
NOTEBOOKS = ("clean--passed--correct.ipynb", "layer_missing--failed--no_dropout.ipynb",
             "syntax_error--passed--unclosed_bracket.ipynb")
GB = 10**9


# pure: slots and the worker check -------------------------------------------------------------------

@pytest.mark.parametrize("nthreads, memory_limit, kernel_bytes, expected", [
    (1, 4 * GB, QUICK_KERNEL_BYTES, 1),                # the test cluster's workers
    (8, 4 * GB, QUICK_KERNEL_BYTES, 2),                # memory, not cores, decides
    (2, 64 * GB, QUICK_KERNEL_BYTES, 2),               # cores decide
    (4, 1 * GB, QUICK_KERNEL_BYTES, 1),                # too little memory for one: still one
    (4, None, QUICK_KERNEL_BYTES, 4),                  # no memory limit: its threads
    (4, 0, QUICK_KERNEL_BYTES, 4),                     # Dask's "no limit" as 0
    (16, 10 * 2**30, int(2.5 * 2**30), 4),             # a full-mode batch needs more per submission
    (0, None, QUICK_KERNEL_BYTES, 1),
])
def test_slots_are_the_fewer_of_threads_and_kernels_the_memory_holds(nthreads, memory_limit, kernel_bytes, expected):
    assert slots(nthreads, memory_limit, kernel_bytes) == expected


def test_workers_with_the_same_grader_pass_the_check():
    check_workers({"tcp://a:1": {"version": "0.1.0", "fingerprint": "f" * 64},
                   "tcp://b:1": {"version": "0.1.0", "fingerprint": "f" * 64}}, "0.1.0", "f" * 64)


@pytest.mark.parametrize("identity, said", [
    (ModuleNotFoundError("No module named 'grader'"), "cannot import the grader (ModuleNotFoundError"),
    ({"version": "0.0.9", "fingerprint": "f" * 64}, "has cnngrader 0.0.9, this grader is 0.1.0"),
    ({"version": "0.1.0", "fingerprint": "e" * 64}, "other code or templates (fingerprint eeeeeeeeeeee, here ffffffffffff)"),
    ("not a dict", "has cnngrader not a dict"),
])
def test_a_worker_with_another_grader_is_named_with_what_differs(identity, said):
    with pytest.raises(DaskUnavailable) as raised:
        check_workers({"tcp://good:1": {"version": "0.1.0", "fingerprint": "f" * 64}, "tcp://odd:2": identity},
                      "0.1.0", "f" * 64)
    message = str(raised.value)
    assert said in message and "tcp://odd:2" in message and "tcp://good:1" not in message


def test_without_distributed_the_executor_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(DaskUnavailable, match=r"pip install 'cnngrader\[dask\]'"):
        DaskExecutor("tcp://127.0.0.1:1", Batch("fashion_cnn", quick=True))


class FinishedTask:
    """What `task_result` reads of a Dask future: its result (or the error it raises), its status."""

    def __init__(self, error: BaseException, status: str = "error"):
        self.error, self.status = error, status

    def result(self):
        raise self.error


def failed_task_problem(error: BaseException, status: str = "error") -> tuple[str, dict]:
    from grader.exercises import load_spec

    result = task_result(FinishedTask(error, status), submission(NOTEBOOKS[0]), load_spec("fashion_cnn"), "quick")
    [diagnosis] = result.checks[0].diagnoses
    assert diagnosis.code == "grader_error" and {check.outcome.value for check in result.checks} == {"error"}
    return dict(diagnosis.fields)["problem"], result.meta


def test_a_task_whose_workers_died_is_a_grader_error_saying_so_plainly():
    from types import SimpleNamespace

    KilledWorker = pytest.importorskip("distributed").KilledWorker
    problem, meta = failed_task_problem(KilledWorker("cnngrader-x-0", SimpleNamespace(address="tcp://w:1"), 3))
    assert problem.startswith("the Dask worker grading it was lost: 4 workers died")
    assert "Traceback" not in problem and "http" not in problem
    assert "tcp://w:1" in meta["grader_traceback"] and "versions" in meta


def test_a_cancelled_or_failing_task_is_a_grader_error_for_its_submission():
    pytest.importorskip("distributed")
    problem, _ = failed_task_problem(RuntimeError("gone"), status="cancelled")
    assert problem.startswith("the Dask scheduler cancelled its task")
    problem, meta = failed_task_problem(OSError(28, "No space left on device"))
    assert problem == "grading it failed on the Dask worker: OSError: [Errno 28] No space left on device"
    assert "OSError" in meta["grader_traceback"]


# the cluster ----------------------------------------------------------------------------------------

@dataclass
class Cluster:
    address: str
    client: object
    folder: Path

    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"])

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.folder.glob("*.log")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], folder: Path, log_name: str, env: dict | None = None) -> subprocess.Popen:
    with open(folder / log_name, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "dask", *command], cwd=folder, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})})


@contextlib.contextmanager
def temporary_folder():
    """A TMPDIR for the Dask processes, removed at the end: a worker killed mid-task cannot clean
    up its batch folder, and it must not stay behind in /tmp. Readable by others, like /tmp (the
    student's processes run under another uid)."""
    folder = Path(tempfile.mkdtemp(prefix="cnngrader-test-dask-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def lone_scheduler(folder: Path, config: dict | None = None):
    """A scheduler of a test's own: its address, the processes to stop (the test adds its workers)
    and the environment to start them with."""
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{free_port()}"
    with temporary_folder() as tmp:
        env = {"TMPDIR": str(tmp)}
        processes = [start(["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                            "--no-dashboard"], folder, "scheduler.log", {**env, **(config or {})})]
        try:
            yield address, processes, env
        finally:
            stop(processes)


def worker_command(address: str, folder: Path, name: str) -> list[str]:
    return ["worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--memory-limit", "4GB",
            "--local-directory", str(folder / name), "--name", name]


def stop(processes: list[subprocess.Popen]) -> None:
    """The workers asked to end (a nanny then closes its worker), then the scheduler they were
    started after (the first process); each process group then killed, whatever a nanny restarted
    included."""
    for group in (processes[1:], processes[:1]):
        for process in group:
            process.terminate()
        deadline = time.monotonic() + 15
        for process in group:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker`s (one thread, 4 GB: one grading slot each)."""
    Client = pytest.importorskip("distributed").Client
    folder = tmp_path_factory.mktemp("dask")
    with lone_scheduler(folder) as (address, processes, env):
        processes += [start(worker_command(address, folder, f"worker{index}"), folder, f"worker{index}.log", env)
                      for index in range(2)]
        with Client(address, timeout=60, set_as_default=False) as client:
            try:
                client.wait_for_workers(2, timeout=120)
            except TimeoutError:
                pytest.fail("the Dask workers did not start:\n" + Cluster(address, client, folder).logs())
            make_batch_contexts(client)
            yield Cluster(address, client, folder)


@pytest.fixture(scope="module")
def batch() -> Batch:
    return Batch("fashion_cnn", quick=True)


@pytest.fixture(scope="module")
def local_verdicts(batch) -> dict:
    """Each example graded here, by the context a local worker grades with."""
    context = Context(batch)
    try:
        return {name: verdicts(context.grade(submission(name))) for name in NOTEBOOKS}
    finally:
        context.close()


def submission(file_name: str) -> Submission:
    path = EXAMPLES / file_name
    return Submission(path.stem, path)


def verdicts(result) -> list[tuple]:
    return [(check.check, check.outcome.value, check.score, tuple(d.code for d in check.diagnoses))
            for check in result.checks]


def has_grader_error(result) -> bool:
    return any(d.code == "grader_error" for check in result.checks for d in check.diagnoses)


@pytest.mark.kernel
@pytest.mark.slow
def test_a_batch_on_dask_gets_the_local_verdicts_from_both_workers(cluster, batch, local_verdicts):
    with DaskExecutor(cluster.address, batch) as executor:
        graded = list(executor.run([submission(name) for name in NOTEBOOKS]))
    assert sorted(item.name for item, _ in graded) == sorted(Path(name).stem for name in NOTEBOOKS)
    for item, result in graded:
        assert result.submission == item.name
        assert verdicts(result) == local_verdicts[item.path.name], item.name
    assert {result.meta["dask_worker"] for _, result in graded} == set(cluster.workers())
    resources = {info["resources"].get("cnngrader")
                 for info in cluster.client.scheduler_info(n_workers=-1)["workers"].values()}
    assert resources == {1}  # one thread and 4 GB: one submission at a time on each worker
    assert "tensorflow" not in sys.modules


@pytest.mark.kernel
@pytest.mark.slow
def test_a_task_that_fails_on_every_try_is_a_grader_error_for_that_submission(cluster):
    """A batch no worker can make ready (an isolation level that does not exist) raises in every
    try of the task: the submission's result says so plainly, for the instructor."""
    with DaskExecutor(cluster.address, Batch("fashion_cnn", quick=True, isolation="nonsense")) as executor:
        [(item, result)] = list(executor.run([submission(NOTEBOOKS[0])]))
    [diagnosis] = result.checks[0].diagnoses
    assert diagnosis.code == "grader_error" and all(check.outcome.value == "error" for check in result.checks)
    problem = dict(diagnosis.fields)["problem"]
    assert problem.startswith("grading it failed on the Dask worker: IsolationUnavailable: unknown isolation level")
    assert "IsolationUnavailable" in result.meta["grader_traceback"] and "versions" in result.meta


@pytest.mark.kernel
@pytest.mark.slow
def test_a_worker_killed_mid_task_costs_only_a_retry(cluster, batch, local_verdicts):
    import psutil

    names = NOTEBOOKS[:2]
    graded: list = []
    with DaskExecutor(cluster.address, batch) as executor:
        runner = threading.Thread(target=lambda: graded.extend(executor.run([submission(n) for n in names])),
                                  daemon=True)
        runner.start()
        victim, key, worker = grading_worker(cluster.client)
        victim_name = cluster.client.scheduler_info(n_workers=-1)["workers"][victim]["name"]
        orphans = worker.children(recursive=True)  # its warm server, the run's monitor, the kernel
        worker.kill()  # SIGKILL, the worker process only: its nanny starts another
        runner.join(timeout=300)
    assert not runner.is_alive(), "the batch did not finish:\n" + cluster.logs()
    assert sorted(item.name for item, _ in graded) == sorted(Path(name).stem for name in names)
    for item, result in graded:
        assert not has_grader_error(result), (item.name, result.checks[0].diagnoses)
        assert verdicts(result) == local_verdicts[item.path.name], item.name
        assert result.meta["dask_worker"] != victim
    removed = [event for _, event in cluster.client.get_events(victim) if event.get("action") == "remove-worker"]
    assert removed and key in removed[0]["processing-tasks"] and not removed[0]["expected"]
    assert orphans
    _, alive = psutil.wait_procs(orphans, timeout=30)
    assert not alive, f"processes the killed worker started outlived it: {alive}"
    assert wait_for(lambda: victim_name in {info["name"] for address, info in
                                     cluster.client.scheduler_info(n_workers=-1)["workers"].items()
                                     if address != victim}, 60)  # its nanny started another, under the same name


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def make_batch_contexts(client) -> None:
    """Have every worker make its context for the tests' batch now, as its first task would: the
    check of the student's uid the context makes runs a process of that uid, which `grading_worker`
    would take for a submission's run."""
    client.run(eval, "__import__('grader.parallel', fromlist=['Batch']).process_context("
                     "__import__('grader.parallel', fromlist=['Batch']).Batch('fashion_cnn', quick=True)) is None")


def grading_worker(client, timeout: float = 120):
    """The first worker seen running a submission of ours, a second in: a process of the
    student's uid under it (at the process level, any process under it). (Its address, the
    task's key, the worker's process.)"""
    import psutil

    deadline = time.monotonic() + timeout
    seen: dict[tuple, float] = {}
    while time.monotonic() < deadline:
        for address, keys in client.processing().items():
            keys = [key for key in keys if str(key).startswith("cnngrader-")]
            if not keys:
                continue
            worker = psutil.Process(client.run(os.getpid, workers=[address])[address])
            for pid in student_processes(worker):
                if time.monotonic() - seen.setdefault((address, pid), time.monotonic()) >= 1:
                    return address, keys[0], worker
        time.sleep(0.2)
    raise AssertionError("no worker started grading")


def student_processes(worker) -> set[int]:
    import psutil

    found = set()
    for process in worker.children(recursive=True):
        try:
            if os.geteuid() != 0 or process.uids().real != worker.uids().real:
                found.add(process.pid)
        except psutil.Error:  # ended meanwhile
            pass
    return found


# a cluster that cannot grade ------------------------------------------------------------------------

def test_an_unreachable_scheduler_is_said_plainly_and_soon(batch):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(DaskUnavailable) as raised:
        DaskExecutor(address, batch, connect_timeout=2)
    assert time.monotonic() - started < 15
    message = str(raised.value)
    assert message.startswith(f"cannot reach the Dask scheduler at {address}: ")
    assert "Traceback" not in message and "\n" not in message


@pytest.mark.kernel
@pytest.mark.slow
def test_no_worker_then_a_worker_with_other_grader_code_stop_the_batch(batch, tmp_path):
    """A scheduler without workers, then with one worker whose grader differs (a copy with one
    line more): each stops the batch before any task, with a message that says which."""
    with lone_scheduler(tmp_path) as (address, processes, env):
        with pytest.raises(DaskUnavailable) as raised:
            DaskExecutor(address, batch, connect_timeout=8)
        assert str(raised.value).startswith(f"the Dask scheduler at {address} has no worker (waited 8 s)")
        copy = tmp_path / "other"
        shutil.copytree(ROOT / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__"))
        for folder in ("exercises", "reference", "templates"):
            (copy / folder).symlink_to(ROOT / folder)
        with open(copy / "grader" / "shapes.py", "a") as handle:
            handle.write("\n# a grader that differs by one line\n")
        processes.append(start(worker_command(address, tmp_path, "other"), tmp_path, "other.log",
                               {**env, "PYTHONPATH": str(copy)}))
        with pytest.raises(DaskUnavailable) as raised:
            DaskExecutor(address, batch, connect_timeout=60)
        message = str(raised.value)
        assert message.startswith("the Dask worker tcp://127.0.0.1:") and "with other code or templates" in message


@pytest.mark.kernel
@pytest.mark.slow
def test_a_task_whose_worker_died_too_often_is_a_grader_error(batch, tmp_path):
    """With no worker death allowed per task (`allowed-failures` 0), the one kill is one too many:
    Dask gives up on the task (KilledWorker) and its submission's result says the worker was lost."""
    config = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with lone_scheduler(tmp_path, config) as (address, processes, env):
        processes.append(start(worker_command(address, tmp_path, "worker"), tmp_path, "worker.log", env))
        with DaskExecutor(address, batch, connect_timeout=60) as executor:
            make_batch_contexts(executor.client)
            graded: list = []
            runner = threading.Thread(target=lambda: graded.extend(executor.run([submission(NOTEBOOKS[0])])),
                                      daemon=True)
            runner.start()
            _, _, worker = grading_worker(executor.client)
            worker.kill()
            runner.join(timeout=60)
        assert not runner.is_alive()
    [(_, result)] = graded
    [diagnosis] = result.checks[0].diagnoses
    assert diagnosis.code == "grader_error"
    assert dict(diagnosis.fields)["problem"].startswith("the Dask worker grading it was lost: 1 worker died")
    assert "workers died while running it" in result.meta["grader_traceback"]  # Dask's words, for the log
