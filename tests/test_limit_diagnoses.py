"""The limits the runner enforces (issue #13) as diagnoses: a run stopped at the disk or process
cap, limits hit without stopping it (`meta["limits_hit"]`), and the cell errors a limit or the
missing network raises. Layer 1: hand-made evidence, no kernel.
"""

from __future__ import annotations

import pytest

from grader.checks.errors import classify_error
from grader.checks.execution import check_execution, limits_hit
from grader.evaluate import evaluate
from grader.evidence import CellError, CellRun, Evidence
from grader.exercises import CheckSpec, load_spec
from grader.reference import load_expected
from grader.results import Outcome, codes

EXECUTION = CheckSpec(id="execution", name="Notebook runs", points=1.0)
CELLS = tuple(CellRun(number, f"print({number})", "ok") for number in range(1, 6))


def execute(evidence: Evidence):
    return check_execution(EXECUTION, evidence, {}, "alice.ipynb")


def fields(diagnosis, *names) -> tuple:
    return tuple(diagnosis.field(name) for name in names)


def failing(ename: str, evalue: str, source: str = "", traceback: str = "", cell: int = 4) -> CellRun:
    return CellRun(cell, source, "error", CellError(ename, evalue, traceback))


# --- A run the runner stopped ----------------------------------------------------------------

@pytest.mark.parametrize("stopped, detail, code, limit", [
    ("disk_limit", "over 4.0 GB written", "disk_limit", "4.0 GB"),
    ("disk_limit", "", "disk_limit", "space"),
    ("process_limit", "over 256 processes", "process_limit", "256 processes"),
    ("process_limit", "", "process_limit", "number of processes"),
])
def test_a_run_stopped_at_a_limit_is_not_judged_and_says_which(stopped, detail, code, limit):
    result = execute(Evidence(kind="notebook", cells=CELLS[:2], stopped=stopped, stopped_detail=detail, stopped_cell=3))
    assert (result.outcome, result.score) == (Outcome.ERROR, 0.0)
    (diagnosis,) = result.diagnoses
    assert (diagnosis.code, diagnosis.cell) == (code, 3)
    assert fields(diagnosis, "where", "limit") == ("Cell 3", limit)
    assert diagnosis.message and diagnosis.hint


def test_a_module_stopped_at_a_limit_points_at_no_cell():
    result = execute(Evidence(kind="module", stopped="process_limit", stopped_detail="over 256 processes",
                              stopped_cell=2))
    (diagnosis,) = result.diagnoses
    assert (diagnosis.cell, diagnosis.field("where")) == (None, "Your submission")


@pytest.mark.parametrize("stopped, code", [("timeout", "timeout"), ("memory_limit", "memory_limit"),
                                           ("kernel_died", "kernel_died")])
def test_the_limits_there_were_before_still_read_the_same(stopped, code):
    result = execute(Evidence(kind="notebook", stopped=stopped, stopped_detail="over 2.5 GB", stopped_cell=3))
    assert result.outcome is Outcome.ERROR and [d.code for d in result.diagnoses] == [code]


# --- Limits hit without stopping the run -----------------------------------------------------

def hit(limit: str, cell: int | None = 3, value: str = "1 MB") -> dict:
    return {"limit": limit, "cell": cell, "value": value}


def test_output_cut_at_its_cap_is_said_and_costs_nothing():
    result = execute(Evidence(kind="notebook", cells=CELLS, meta={"limits_hit": [hit("output")]}))
    assert (result.outcome, result.score) == (Outcome.PASSED, 1.0)
    (diagnosis,) = result.diagnoses
    assert (diagnosis.code, diagnosis.cell, diagnosis.field("limit")) == ("output_limit", 3, "1 MB")
    assert diagnosis.kind.audience == "student"


@pytest.mark.parametrize("limit, value, code, words", [
    ("processes", "256", "process_limit", "256 processes"),
    ("file_size", "1 GB", "file_limit", "1 GB"),
    ("disk", "4.0 GB", "disk_limit", "4.0 GB"),
    ("memory", "2.5 GB", "memory_limit", "2.5 GB"),
])
def test_a_limit_hit_that_did_not_stop_the_run_costs_the_run_its_points(limit, value, code, words):
    result = execute(Evidence(kind="notebook", cells=CELLS, meta={"limits_hit": [hit(limit, 2, value)]}))
    assert (result.outcome, result.score) == (Outcome.FAILED, 0.0)
    (diagnosis,) = result.diagnoses
    assert (diagnosis.code, diagnosis.cell, diagnosis.field("limit")) == (code, 2, words)


def test_a_limit_the_stopped_run_or_the_cells_error_already_says_is_said_once():
    evidence = Evidence(kind="notebook", cells=(*CELLS[:2], failing("OSError", "[Errno 27] File too large", cell=3)),
                        stopped="disk_limit", stopped_detail="over 4.0 GB written", stopped_cell=5,
                        meta={"limits_hit": [hit("file_size", 3, "1 GB"), hit("disk", 5, "4.0 GB"),
                                             hit("disk", None, "4.0 GB"), hit("output", 1), hit("output", 1)]})
    result = execute(evidence)
    assert result.outcome is Outcome.ERROR
    said = [(d.code, d.cell, d.field("limit")) for d in result.diagnoses]
    assert said == [("file_limit", 3, "1 GB"), ("disk_limit", 5, "4.0 GB"), ("output_limit", 1, "1 MB")]


def test_a_stopped_run_that_does_not_know_the_cell_covers_the_limit_hit_in_one():
    evidence = Evidence(kind="notebook", cells=CELLS, stopped="process_limit", stopped_detail="over 256 processes",
                        meta={"limits_hit": [hit("processes", 4, "256")]})
    assert [(d.code, d.cell) for d in execute(evidence).diagnoses] == [("process_limit", None)]


@pytest.mark.parametrize("entries", [None, "output", 5, [5, "x", None], [{"limit": "cpu", "cell": 2}],
                                     [{"limit": "output", "cell": "3", "value": 7}], [{"limit": ["output"]}]])
def test_a_limits_record_of_another_shape_is_read_without_a_crash(entries):
    result = execute(Evidence(kind="notebook", cells=CELLS, meta={"limits_hit": entries}))
    assert result.outcome is Outcome.PASSED
    assert all(d.code == "output_limit" and d.cell is None and d.field("limit") == "amount" for d in result.diagnoses)


def test_limits_hit_reads_the_runners_entries_in_order():
    meta = {"limits_hit": [hit("output", 3), hit("processes", None, "256"), {"limit": "disk", "cell": True}]}
    assert limits_hit(Evidence(kind="notebook", meta=meta)) == [("output", 3, "1 MB"), ("processes", None, "256"),
                                                                ("disk", None, "")]


# --- Cell errors a limit raises --------------------------------------------------------------

FORK = "pid = os.fork()\n"
POOL = "with multiprocessing.Pool(8) as pool:\n    pool.map(f, range(8))\n"


@pytest.mark.parametrize("run, code", [
    (failing("OSError", "[Errno 27] File too large", "np.save('x.npy', big)\n"), "file_limit"),
    (failing("OSError", "Unable to synchronously create file (unable to open file: name = 'm.h5', "
                        "errno = 27, error message = 'File too large')"), "file_limit"),
    (failing("OSError", "[Errno 28] No space left on device", "model.save('m.keras')\n"), "disk_limit"),
    (failing("OSError", "[Errno 122] Disk quota exceeded"), "disk_limit"),
    (failing("BlockingIOError", "[Errno 11] Resource temporarily unavailable", FORK), "process_limit"),
    (failing("BlockingIOError", "[Errno 11] Resource temporarily unavailable", "f()\n",
             'File "/usr/lib/python3.11/subprocess.py", line 1885, in _execute_child'), "process_limit"),
    (failing("BlockingIOError", "[Errno 11] Resource temporarily unavailable", POOL), "process_limit"),
    (failing("RuntimeError", "can't start new thread", "threading.Thread(target=f).start()\n"), "process_limit"),
    (failing("BlockingIOError", "[Errno 11] Resource temporarily unavailable", "data = sock.recv(10)\n"),
     "runtime_error"),
])
def test_a_limit_refusing_a_call_is_named(run, code):
    diagnosis = classify_error(run)
    assert (diagnosis.code, diagnosis.cell) == (code, 4)
    assert diagnosis.message and diagnosis.hint


def test_the_value_of_a_limit_the_runner_reports_reaches_the_cells_diagnosis():
    evidence = Evidence(kind="notebook", cells=(failing("BlockingIOError", "[Errno 11] Resource temporarily unavailable",
                                                        FORK, cell=2),),
                        meta={"limits_hit": [hit("processes", 2, "256")]})
    (diagnosis,) = execute(evidence).diagnoses
    assert (diagnosis.code, diagnosis.cell, diagnosis.field("limit")) == ("process_limit", 2, "256 processes")
    assert classify_error(failing("OSError", "[Errno 27] File too large")).field("limit") == "size"


# --- No network where work is graded ---------------------------------------------------------

REQUESTS = ("HTTPSConnectionPool(host='api.example.com', port=443): Max retries exceeded with url: /data "
            "(Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to "
            "resolve 'api.example.com' ([Errno -3] Temporary failure in name resolution)\"))")


@pytest.mark.parametrize("ename, evalue, source, target, reason, line", [
    ("URLError", "<urlopen error [Errno 101] Network is unreachable>",
     "x = urllib.request.urlopen('https://example.com/x.npz')\n", "https://example.com/x.npz",
     "the network is unreachable", 1),
    ("OSError", "[Errno 101] Network is unreachable", "import socket\ns = socket.create_connection(('10.0.0.1', 80))\n",
     "a server", "the network is unreachable", None),
    ("gaierror", "[Errno -3] Temporary failure in name resolution", "socket.gethostbyname('example.com')\n",
     "a server", "no host name can be looked up", None),
    ("ConnectionError", REQUESTS, "r = requests.get(API)\n", "api.example.com", "no host name can be looked up", None),
    ("Exception", "URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz: "
                  "None -- [Errno -3] Temporary failure in name resolution",
     "(x, y), _ = keras.datasets.mnist.load_data()\n",
     "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz", "no host name can be looked up", None),
    ("URLError", "<urlopen error [Errno -2] Name or service not known>",
     "\ndf = pd.read_csv('https://example.com/train.csv')\n", "https://example.com/train.csv",
     "no host name can be looked up", 2),
])
def test_a_call_that_finds_no_network_says_the_network_is_off(ename, evalue, source, target, reason, line):
    diagnosis = classify_error(failing(ename, evalue, source))
    assert diagnosis.code == "network_unavailable"
    assert fields(diagnosis, "target", "reason") == (target, reason)
    assert diagnosis.line == line


@pytest.mark.parametrize("ename, evalue", [
    ("FileNotFoundError", "[Errno 2] No such file or directory: 'train.csv'"),
    ("Exception", "URL fetch failure on https://example.com/x.npz: 404 -- Not Found"),
])
def test_a_file_that_is_not_there_is_still_data_unavailable(ename, evalue):
    assert classify_error(failing(ename, evalue, "x = load()\n")).code == "data_unavailable"


# --- The whole pipeline ----------------------------------------------------------------------

def test_a_run_stopped_at_the_disk_cap_grades_to_a_full_result():
    spec = load_spec("fashion_cnn")
    evidence = Evidence(kind="notebook", cells=CELLS[:2], stopped="disk_limit",
                        stopped_detail="over 4.0 GB written", stopped_cell=3,
                        meta={"limits_hit": [hit("output", 1)],
                              "isolation": {"level": "jail", "files": "1 GB per file, 4 GB in all"}})
    result = evaluate(spec, load_expected(spec.reference), evidence, "alice")
    assert {"disk_limit", "output_limit"} <= codes(result) and "grader_error" not in codes(result)
    assert result.checks[0].outcome is Outcome.ERROR
    assert result.meta["isolation"]["level"] == "jail"
