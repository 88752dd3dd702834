"""Untrusted submissions graded in one batch between two correct neighbours (issue #13, layer 3).

One batch, in this order: a correct notebook (`aa_neighbour_before`), the two honest controls,
every case of cases/ (see README.md), the same correct notebook again (`zz_neighbour_after`).
Each case must get its own verdict (the codes it must get, the score it must not pass) and no
grade may move: both neighbours get the correct notebook's full quick-mode marks, and every
results.json in the output folder is, at the end, the one the grader wrote for that submission.

The harness keeps its own record of what the grader computed: the grader logs one line per
submission right after writing its files, and at that moment the harness reads back that
results.json. The submissions never see the harness's process, so that record is theirs to
forge only by breaking the grader.

The four cases that could take the shared machine down while the grader has no defence against
them (memory, fork and print bombs, disk fill) are graded unless CNNGRADER_ADVERSARIAL_ALL=0.
A watchdog kills the kernel of a submission that holds the batch for STALL_LIMIT seconds (a
SIGINT-proof loop does without the defence), so that the batch can finish and say so.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import html
import importlib.util
import json
import os
import re
import shutil
import signal
import threading
import time
import traceback
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest

import make_cases

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
CORRECT = HERE.parent.parent / "examples" / "submissions" / "fashion_cnn" / "clean--passed--correct.ipynb"
EXERCISE = "fashion_cnn"
TIMEOUT = 20
MEMORY_LIMIT = int(2.5 * 2**30)
STALL_LIMIT = 120
"""Seconds without a graded submission after which the watchdog kills the kernel being graded."""
BACKGROUND_WAIT = 25
"""Seconds after the background case is graded before the output folder is read for the last time:
its process sleeps 15 s, then rewrites."""
BEFORE, AFTER = "aa_neighbour_before", "zz_neighbour_after"
HOSTILE_NAME = "hostile_<img src=x onerror=alert(2)>"
CLASS_FILES = ("index.html", "grades.csv", "junit.xml", "grading.log")
ALWAYS_FORBIDDEN = frozenset({"grader_error", "no_evidence"})
DANGEROUS_ENABLED = os.environ.get("CNNGRADER_ADVERSARIAL_ALL", "1") == "1"

CORRECT_QUICK = {
    "execution": (1.0, "passed"),
    "architecture": (4.0, "passed"),
    "pooling": (1.0, "passed"),
    "training_setup": (1.0, "passed"),
    "reload": (1.0, "passed"),
    "feature_maps": (1.0, "passed"),
    "accuracy": (0.0, "skipped"),
}
"""The correct notebook's results in quick mode: 9 of 15, accuracy skipped (read off an honest run)."""


def one_of(*codes: str) -> frozenset[str]:
    return frozenset(codes)


@dataclass(frozen=True)
class Case:
    """One submission of the batch and the verdict it must get."""

    name: str
    """Its name in the output folder."""
    file: str
    """Its file (or folder) under cases/, or a generated malformed notebook's name."""
    codes: tuple[frozenset[str], ...] = ()
    """Each entry: codes of which at least one must be emitted."""
    at_cells: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """A code and exactly the cells its diagnoses point at."""
    forbidden: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()
    """Codes of ALWAYS_FORBIDDEN this case may get."""
    like: str | None = None
    """A control whose per-check scores, outcomes and student codes it must get exactly."""
    at_most: str | None = None
    """A control whose total it must not pass."""
    submitted_as: str | None = None
    """The file name it is handed in under, when not its own."""
    jail_only: bool = False
    """Its verdict holds at the jail level only (below it the grader's files are readable by design)."""


def notebook(name: str, **expect) -> Case:
    return Case(name, f"{name}.ipynb", **expect)


def malformed(name: str) -> Case:
    if name in make_cases.READABLE_MALFORMED:
        return notebook(name, like="control_empty")
    return notebook(name, codes=(one_of("invalid_notebook"),), at_most="control_empty")


EMPTY_LIKE = {"like": "control_empty"}
WRONG_LIKE = {"like": "control_wrong_model", "codes": (one_of("param_mismatch"),)}

CASES_IN_ORDER: tuple[Case, ...] = (
    notebook("control_empty", codes=(one_of("missing_model"),)),
    notebook("control_wrong_model", codes=(one_of("param_mismatch"),)),
    notebook("background_rewriter", **EMPTY_LIKE),
    *(malformed(name) for name in [*make_cases.MALFORMED, *make_cases.GENERATED]),
    notebook("nested_brackets", codes=(one_of("syntax_error"),), at_cells=(("syntax_error", (1,)),),
             at_most="control_empty"),
    notebook("reads_stdin", codes=(one_of("runtime_error"),), at_cells=(("runtime_error", (1,)),),
             at_most="control_empty"),
    notebook("sys_exit", codes=(one_of("runtime_error"),), at_cells=(("runtime_error", (1,)),),
             forbidden=frozenset({"kernel_died"}), at_most="control_empty"),
    # ipykernel 7 answers `exit()` with an ask_exit payload for the front end and keeps running.
    notebook("exit_builtin", **EMPTY_LIKE),
    notebook("os_exit", codes=(one_of("kernel_died"),), at_cells=(("kernel_died", (1,)),), at_most="control_empty"),
    notebook("kill_own_kernel", codes=(one_of("kernel_died"),), at_cells=(("kernel_died", (1,)),),
             at_most="control_empty"),
    notebook("hides_traceback", codes=(one_of("runtime_error"),), at_cells=(("runtime_error", (1, 2)),),
             at_most="control_empty"),
    notebook("hostile_output", codes=(one_of("runtime_error"),), at_cells=(("runtime_error", (1,)),),
             at_most="control_empty"),
    Case(HOSTILE_NAME, "hostile_name.ipynb", submitted_as=f"{HOSTILE_NAME}.ipynb", **EMPTY_LIKE),
    notebook("opens_sockets", codes=(one_of("network_unavailable", "runtime_error"),), at_most="control_empty"),
    notebook("leaks_files", jail_only=True, **EMPTY_LIKE),
    Case("ships_shadow_files", "ships_shadow_files", **EMPTY_LIKE),
    Case("module_exits_at_import", "module_exits_at_import.py", codes=(one_of("kernel_died"),)),
    Case("lambda_layer", "lambda_layer.keras", codes=(one_of("lambda_layer", "unloadable_model"),)),
    notebook("patches_numpy", **WRONG_LIKE),
    notebook("patches_keras", **WRONG_LIKE),
    notebook("nan_predictions", **WRONG_LIKE),
    notebook("always_equal", **WRONG_LIKE),
    notebook("forges_evidence", at_most="control_empty", allowed=frozenset({"no_evidence"})),
    notebook("sigint_proof_loop", codes=(one_of("timeout"),), at_cells=(("timeout", (1,)),),
             forbidden=frozenset({"kernel_died"}), at_most="control_empty"),
)
DANGEROUS: tuple[Case, ...] = (
    notebook("memory_bomb", codes=(one_of("memory_limit"),), at_cells=(("memory_limit", (1,)),),
             at_most="control_empty"),
    # Each forked copy of the kernel counts its resident memory in the polled sum: the memory
    # limit may stop the bomb before the process cap does.
    notebook("fork_bomb", codes=(one_of("process_limit", "runtime_error", "memory_limit"),), at_most="control_empty"),
    notebook("print_flood", codes=(one_of("output_limit"),), at_cells=(("output_limit", (1,)),),
             at_most="control_empty"),
    notebook("fills_disk", codes=(one_of("disk_limit", "file_limit"),), at_most="control_empty"),
)
"""Left out with CNNGRADER_ADVERSARIAL_ALL=0: without the grader's limits on memory, processes,
output and disk they could take the shared machine down."""
LAST: tuple[Case, ...] = (
    # Late: it swaps the first neighbour's folder, and its class-file folders break the batch's end.
    notebook("results_tamper", **EMPTY_LIKE),
    # Last: its planted files are meant for the submission right after it, the second neighbour.
    notebook("plants_next_submission", **EMPTY_LIKE),
)


def batch_cases() -> tuple[Case, ...]:
    return CASES_IN_ORDER + (DANGEROUS if DANGEROUS_ENABLED else ()) + LAST


def batch_order() -> list[str]:
    return [BEFORE, *(case.name for case in batch_cases()), AFTER]


# ---------------------------------------------------------------------------------- the batch


def prepare_inputs(folder: Path) -> list[Path]:
    """The batch's paths, in grading order: files as they are handed in, and a folder case inside a
    folder of its own (a folder passed directly would be a class of one submission per file)."""
    folder.mkdir(parents=True)
    generated = make_cases.write_generated(folder / "generated")
    paths = [folder / f"{BEFORE}.ipynb"]
    shutil.copyfile(CORRECT, paths[0])
    for case in batch_cases():
        if case.name in generated:
            paths.append(generated[case.name])
            continue
        source = CASES / case.file
        if source.is_dir():
            target = folder / f"class-of-{case.name}" / case.name
            target.mkdir(parents=True)
            for item in source.iterdir():
                shutil.copyfile(item, target / item.name.removesuffix(".txt"))
            paths.append(target.parent)
        else:
            paths.append(folder / (case.submitted_as or source.name))
            shutil.copyfile(source, paths[-1])
    paths.append(folder / f"{AFTER}.ipynb")
    shutil.copyfile(CORRECT, paths[-1])
    return paths


def processes_with_argument(argument: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if argument in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def own_descendants() -> list[int]:
    from grader.runner.limits import descendants

    return descendants(os.getpid())[1:]


def kill(pids: list[int]) -> None:
    from grader.runner.limits import kill_all

    kill_all(pids)


class Recorder:
    """The log the grader writes to: a read-back of each results.json as the grader wrote it, the
    background processes alive once a submission is graded, and a watchdog for a stuck kernel."""

    LINE = re.compile(r"^\[(\d+)/(\d+)\] (.*): ([0-9.]+)/([0-9.]+) -> (.*?)(?: \(about [0-9.]+ min left\))?$")

    def __init__(self, order: list[str]):
        self.order = order
        self.lines: list[str] = []
        self.graded: dict[str, dict] = {}
        self.survivors: dict[str, list[int]] = {}
        self.rescues: list[dict] = []
        self.started = self.progress = time.monotonic()
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)

    def __call__(self, message: str) -> None:
        self.lines.append(message)
        match = self.LINE.match(message)
        if not match:
            return
        index, name, path = int(match.group(1)), match.group(3), Path(match.group(6))
        expected_name = self.order[index - 1] if index <= len(self.order) else None
        raw = path.read_bytes() if path.is_file() else b""
        now = time.monotonic()
        self.graded[expected_name or name] = {
            "logged_name": name, "score": float(match.group(4)), "max_score": float(match.group(5)),
            "sha256": hashlib.sha256(raw).hexdigest(), "path": str(path), "at": round(now - self.started, 2),
            "seconds": round(now - self.progress, 2)}
        self.survivors[expected_name or name] = processes_with_argument(make_cases.BACKGROUND_MARKER.encode())
        self.progress = now

    def _watch(self) -> None:
        while not self._stop.wait(5):
            if time.monotonic() - self.progress < STALL_LIMIT:
                continue
            kernels = [pid for pid in own_descendants() if _is_submission_process(pid)]
            current = self.order[len(self.graded)] if len(self.graded) < len(self.order) else None
            self.rescues.append({"case": current, "killed": kernels, "after_seconds": STALL_LIMIT})
            kill(kernels)
            self.progress = time.monotonic()

    def __enter__(self) -> "Recorder":
        self._watchdog.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._watchdog.join(timeout=10)


def _is_submission_process(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"ipykernel_launcher" in argv or b"grader.runner.worker" in argv


def run_batch(folder: Path) -> dict:
    """Grade the whole batch into folder/out with a home of its own; the record of what happened."""
    from grader.data import DataUnavailable
    from grader.grading import grade_paths

    order = batch_order()
    paths = prepare_inputs(folder / "inputs")
    out, home = folder / "out", folder / "home"
    home.mkdir()
    saved = {key: os.environ.get(key) for key in ("HOME", "KERAS_HOME")}
    # The submissions inherit HOME: a home of the batch's own keeps the planted startup files
    # away from the account's. The grader still finds data where it would in the real home.
    real_keras = Path(os.path.expanduser("~")) / ".keras"
    if saved["KERAS_HOME"] is None and (real_keras / "datasets").is_dir():
        os.environ["KERAS_HOME"] = str(real_keras)
    os.environ["HOME"] = str(home)
    record: dict = {"out": str(out), "home": str(home), "order": order, "dangerous": DANGEROUS_ENABLED}
    started = time.monotonic()
    try:
        with Recorder(order) as recorder:
            try:
                record["returncode"] = grade_paths(paths, EXERCISE, out, quick=True, timeout=TIMEOUT,
                                                   memory_limit_bytes=MEMORY_LIMIT, log=recorder)
                record["error"] = None
            except DataUnavailable as error:
                return {**record, "skip": f"no data for {EXERCISE}: {error}"}
            except Exception:  # noqa: BLE001 - a batch that crashes is what the tests report
                record["returncode"], record["error"] = None, traceback.format_exc()
            record["batch_seconds"] = round(time.monotonic() - started, 2)
            background = recorder.graded.get("background_rewriter")
            if background is not None:
                time.sleep(max(0.0, background["at"] + BACKGROUND_WAIT - (time.monotonic() - recorder.started)))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    leftovers = processes_with_argument(make_cases.BACKGROUND_MARKER.encode())
    kill(leftovers)
    markers = home / make_cases.MARKERS
    return {**record, "log": recorder.lines, "graded": recorder.graded, "survivors": recorder.survivors,
            "rescues": recorder.rescues, "killed_at_end": leftovers,
            "markers": sorted(path.name for path in markers.iterdir()) if markers.is_dir() else [],
            "seconds": round(time.monotonic() - started, 2)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    """The batch, graded once per test session: xdist workers share it through a lock."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "adversarial"
    with open(root / "adversarial.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        summary = folder / "batch.json"
        if not summary.exists():
            folder.mkdir(exist_ok=True)
            record = run_batch(folder)
            summary.write_text(json.dumps(record, indent=1))
            (folder / "summary.txt").write_text(describe(record))
    record = json.loads(summary.read_text())
    if record.get("skip"):
        pytest.skip(record["skip"])
    return record


def describe(record: dict) -> str:
    """One line per submission (score, seconds, codes): for people reading a run."""
    lines = [f"batch: {record.get('batch_seconds')} s graded, {record.get('seconds')} s in all; "
             f"returncode {record.get('returncode')}; error: {(record.get('error') or 'none').strip().splitlines()[-1]}"]
    for name in record["order"]:
        graded = record.get("graded", {}).get(name)
        try:
            codes = sorted(f"{code}@{sorted(cells)}" for code, cells in codes_at(read_results(record, name)).items())
        except (OSError, ValueError) as error:
            codes = [f"unreadable: {error}"]
        lines.append(f"{name}: {graded['score'] if graded else '-'}/{graded['max_score'] if graded else '-'} "
                     f"in {graded['seconds'] if graded else '-'} s; {' '.join(codes) or 'no codes'}")
    lines += [f"rescued: {record.get('rescues')}", f"survivors: {record.get('survivors')}",
              f"markers: {record.get('markers')}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- reading results


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def read_results(record: dict, name: str) -> dict:
    """out/<name>/results.json parsed as strict JSON (NaN and Infinity rejected)."""
    text = (Path(record["out"]) / name / "results.json").read_text()
    return json.loads(text, parse_constant=_no_constants)


def is_student_code(code: str) -> bool:
    from grader.diagnoses import CATALOGUE

    kind = CATALOGUE.get(code)
    return kind is None or kind.audience == "student"  # a code not yet catalogued counts as the student's


def diagnoses(results: dict) -> list[dict]:
    return [diagnosis for test in results["tests"] for diagnosis in test["extra_data"]["diagnoses"]]


def codes_at(results: dict) -> dict[str, set]:
    """Every code emitted, with the cells its diagnoses point at (None for none)."""
    found: dict[str, set] = {}
    for diagnosis in diagnoses(results):
        found.setdefault(diagnosis["code"], set()).add(diagnosis.get("cell"))
    return found


def verdict(results: dict) -> dict:
    """Per check: score, outcome and the student's codes."""
    return {(test["extra_data"]["check"], test["extra_data"].get("model")):
            (test["score"], test["extra_data"]["outcome"],
             tuple(sorted({d["code"] for d in test["extra_data"]["diagnoses"] if is_student_code(d["code"])})))
            for test in results["tests"]}


def total(results: dict) -> float:
    return sum(test["score"] for test in results["tests"])


def graded_or_fail(batch: dict, name: str) -> dict:
    if name not in batch["graded"]:
        pytest.fail(f"{name} was never graded: the batch stopped first ({(batch.get('error') or '').strip()[-400:]})")
    rescued = [rescue for rescue in batch["rescues"] if rescue["case"] == name]
    assert not rescued, f"{name} held the batch: the harness killed its kernel after {STALL_LIMIT} s ({rescued})"
    return read_results(batch, name)


# ---------------------------------------------------------------------------------- the tests


def test_the_batch_finishes_without_a_grader_error(batch):
    assert batch["error"] is None, f"grade_paths raised:\n{batch['error']}"
    assert batch["returncode"] == 0, batch["log"][-5:]
    assert [name for name in batch["order"] if name not in batch["graded"]] == []
    assert any(line.startswith("class summary:") for line in batch["log"]), batch["log"][-3:]
    assert batch["rescues"] == [], f"the harness had to kill stuck kernels: {batch['rescues']}"


def test_every_submission_ends_with_a_valid_results_json(batch):
    problems = {}
    for name in batch["order"]:
        try:
            results = read_results(batch, name)
            extra = results["extra_data"]
            assert extra["submission"] == name and extra["exercise"] == EXERCISE, (extra["submission"], extra["exercise"])
            assert results["score"] == pytest.approx(total(results)), (results["score"], total(results))
            assert 0 <= results["score"] <= extra["max_score"], (results["score"], extra["max_score"])
            assert all(0 <= test["score"] <= test["max_score"] for test in results["tests"])
            assert "grader_error" not in codes_at(results)
        except (OSError, ValueError, KeyError, TypeError, AssertionError) as error:
            problems[name] = f"{type(error).__name__}: {error}"
    assert problems == {}


def test_every_results_json_is_the_one_the_grader_wrote(batch):
    out = Path(batch["out"])
    moved = {}
    for name in batch["order"]:
        graded = batch["graded"].get(name)
        path = out / name / "results.json"
        if graded is None or not path.is_file():
            moved[name] = "no results.json" if graded else "never graded"
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != graded["sha256"]:
            moved[name] = f"rewritten after grading: score now {json.loads(path.read_text()).get('score')}, graded {graded['score']}"
        elif read_results(batch, name)["score"] != pytest.approx(graded["score"]):
            moved[name] = f"the grader logged {graded['score']}, its results.json says otherwise"
    assert moved == {}
    links = [str(path) for path in out.rglob("*") if path.is_symlink()]
    assert links == [], "symlinks in the output folder"
    listed, wanted = {path.name for path in out.iterdir()}, {*batch["order"], *CLASS_FILES}
    assert (sorted(listed - wanted), sorted(wanted - listed)) == ([], []), "entries the grader did not write, or missing"
    assert all((out / name).is_file() for name in CLASS_FILES)
    with open(out / "grades.csv", newline="") as handle:
        totals = {row["id"]: float(row["total"]) for row in csv.DictReader(handle)}
    assert totals == {name: graded["score"] for name, graded in batch["graded"].items()}


def test_the_neighbours_get_the_correct_notebooks_full_marks(batch):
    before, after = graded_or_fail(batch, BEFORE), graded_or_fail(batch, AFTER)
    assert verdict(before) == verdict(after)
    assert {check: (score, outcome) for (check, _), (score, outcome, codes) in verdict(after).items()} == CORRECT_QUICK
    assert [d["code"] for d in diagnoses(before)] == [d["code"] for d in diagnoses(after)] == []
    assert [(t["name"], t["status"]) for t in before["tests"]] == [(t["name"], t["status"]) for t in after["tests"]]


def test_no_process_outlives_its_grading(batch):
    assert {name: pids for name, pids in batch["survivors"].items() if pids} == {}
    assert batch["killed_at_end"] == []


def test_no_planted_or_shipped_code_ever_runs(batch):
    assert batch["markers"] == [], "code planted or shipped by a submission ran (markers left in $HOME)"


@pytest.mark.parametrize("case", batch_cases(), ids=lambda case: case.name)
def test_each_case_gets_its_verdict(batch, case):
    from grader.runner.sandbox import detect

    if case.jail_only and detect().level != "jail":
        pytest.skip(f"at the {detect().level!r} level the grader's files are readable by design (see the README)")
    results = graded_or_fail(batch, case.name)
    emitted = codes_at(results)
    summary = {code: sorted(cells, key=str) for code, cells in emitted.items()}
    messages = [d["message"][:300] for d in diagnoses(results)]
    for alternatives in case.codes:
        assert alternatives & set(emitted), f"wanted one of {sorted(alternatives)}; got {summary}: {messages}"
    for code, cells in case.at_cells:
        assert emitted.get(code) == set(cells), f"{code} should point at cell(s) {cells}; got {summary}: {messages}"
    forbidden = (case.forbidden | ALWAYS_FORBIDDEN) - case.allowed
    assert forbidden.isdisjoint(emitted), f"got {sorted(forbidden & set(emitted))}: {messages}"
    if case.like is not None:
        control = graded_or_fail(batch, case.like)
        assert verdict(results) == verdict(control), f"should be graded exactly like {case.like}: {messages}"
    if case.at_most is not None:
        assert total(results) <= total(graded_or_fail(batch, case.at_most)), messages


def test_reports_show_student_markup_as_text(batch):
    out = Path(batch["out"])
    graded_or_fail(batch, "hostile_output")
    report = (out / "hostile_output" / "report.html").read_text()
    assert "<script>alert" not in report and "\x1b" not in report
    assert "{{ 7*7 }}" in html.unescape(report), "the student's template syntax should be shown as written"
    for name in ("hostile_output", HOSTILE_NAME):
        results = read_results(batch, name)
        outputs = [results["output"], *(test["output"] for test in results["tests"])]
        assert not [text for text in outputs if "<script" in text or "<img" in text or "\x1b" in text]
    summary = (out / "index.html").read_text()
    assert "<script>alert" not in summary and "<img src=x" not in summary
    assert (out / HOSTILE_NAME / "report.html").is_file()
    suites = ElementTree.parse(out / "junit.xml").getroot()
    assert HOSTILE_NAME in {suite.get("name") for suite in suites.iter("testsuite")}


def test_the_kernel_cannot_read_what_it_must_not(batch):
    from grader.runner.sandbox import detect

    if detect().level != "jail":
        pytest.skip(f"at the {detect().level!r} level the grader's files are readable by design (see the README)")
    results = graded_or_fail(batch, "leaks_files")
    leaked = [d["message"] for d in diagnoses(results) if "LEAKED" in d["message"]]
    assert not [message for message in leaked if "expected:" in message], \
        f"the submission read the expected file: {leaked}"
    assert leaked == [], f"the submission saw what it must not: {leaked}"
