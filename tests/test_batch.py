"""A class graded as a batch: parallel workers, resuming an output folder, --force, Ctrl-C.

The kernel tests grade a few quick examples; the rest are pure (hashes, the plain-data round trip
of a result, how many workers fit)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.grading import Submission, grade_paths
from grader.parallel import Batch, input_hash, kept_result, local_workers
from grader.exercises import load_spec
from grader.results import result_from_data, result_to_data

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions" / "fashion_cnn"
QUICK = ["syntax_error--passed--unclosed_bracket.ipynb", "missing_model--error--only_loads_data.ipynb",
         "layer_missing--failed--no_dropout.ipynb"]


def copies(folder: Path, names=QUICK) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def verdicts(out: Path) -> dict:
    found = {}
    for path in sorted(out.glob("*/results.json")):
        data = json.loads(path.read_text())
        found[path.parent.name] = (data["score"], [(t["name"], t["status"], t["score"]) for t in data["tests"]])
    return found


# pure -------------------------------------------------------------------------------------------

def test_the_input_hash_follows_every_input(tmp_path):
    spec = load_spec("fashion_cnn")
    path = tmp_path / "a.ipynb"
    shutil.copy(EXAMPLES / QUICK[0], path)
    submission = Submission("a", path)
    quick = Batch("fashion_cnn", quick=True)
    base = input_hash(submission, quick, spec)
    assert input_hash(submission, Batch("fashion_cnn", quick=True), spec) == base
    assert input_hash(submission, Batch("fashion_cnn"), spec) != base  # the mode
    assert input_hash(submission, Batch("fashion_cnn", quick=True, timeout=5), spec) != base  # a limit
    assert input_hash(Submission("b", path), quick, spec) != base  # the name it is graded under
    # where the output folder is does not change what the grade depends on
    assert input_hash(submission, Batch("fashion_cnn", quick=True, hidden=("/elsewhere",)), spec) == base
    path.write_bytes(path.read_bytes() + b" ")
    assert input_hash(submission, quick, spec) != base  # the submission's bytes


def test_a_result_survives_its_plain_data():
    """A result with diagnoses (a missing Dropout, fields holding tuples) through JSON and back."""
    import configs
    from grader.evaluate import evaluate
    from grader.reference import load_expected

    spec = load_spec("fashion_cnn")
    layers = [layer for layer in configs.fashion_cnn_layers() if layer["class_name"] != "Dropout"]
    evidence = configs.evidence(configs.record(1, configs.sequential(layers, (28, 28, 1)), cell=3))
    result = evaluate(spec, load_expected(spec.reference), evidence, "student", "quick")
    assert any(check.diagnoses for check in result.checks)
    again = result_from_data(json.loads(json.dumps(result_to_data(result))))
    assert again == result and again.meta == result.meta and again.sources == result.sources
    assert [c.data for c in again.checks] == [c.data for c in result.checks]


def test_workers_are_capped_by_memory():
    count, reason = local_workers(64, 100, 2**60)
    assert count == 1 and "memory" in reason
    assert local_workers(2, 1, 1)[0] == 1  # never more than there are submissions
    assert local_workers(3, 10, 1) == (3, "")


def test_a_stored_result_from_other_inputs_is_not_kept(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"extra_data": {"meta": {"input_hash": "x"}, "result": {}}}))
    (folder / "report.html").write_text("<html></html>")
    assert kept_result(folder, "y") is None
    assert kept_result(folder, "x") is None  # the right hash, but no result in it
    assert kept_result(tmp_path / "missing", "x") is None


# with kernels -----------------------------------------------------------------------------------

@pytest.mark.kernel
def test_two_workers_give_the_verdicts_of_one_and_a_second_run_keeps_them(tmp_path):
    submissions = copies(tmp_path / "class")
    one, two = tmp_path / "one", tmp_path / "two"
    assert grade_paths([submissions], "fashion_cnn", one, quick=True, workers=1, log=lambda line: None) == 0
    lines: list[str] = []
    assert grade_paths([submissions], "fashion_cnn", two, quick=True, workers=2, log=lines.append) == 0
    assert verdicts(one) == verdicts(two) and len(verdicts(two)) == len(QUICK)
    assert any("with 2 worker(s)" in line for line in lines)
    log_file = (two / "grading.log").read_text()
    assert all(f"] {Path(name).stem}: " in log_file for name in QUICK)
    users = {json.loads(p.read_text())["extra_data"]["meta"]["isolation"]["user"] for p in two.glob("*/results.json")}
    if all(user.startswith("uid") for user in users):
        assert len(users) >= 2, "two submissions graded at once shared a student uid"

    before = {p: p.read_bytes() for p in two.glob("*/*")}
    started = time.monotonic()
    lines.clear()
    assert grade_paths([submissions], "fashion_cnn", two, quick=True, workers=2, log=lines.append) == 0
    assert any(line.startswith(f"{len(QUICK)} of {len(QUICK)} unchanged") for line in lines)
    assert {p: p.read_bytes() for p in two.glob("*/*")} == before
    assert time.monotonic() - started < 30  # nothing was run (no kernel starts)

    changed = submissions / QUICK[0]
    notebook = json.loads(changed.read_text())
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "edited"})
    changed.write_text(json.dumps(notebook))
    lines.clear()
    assert grade_paths([submissions], "fashion_cnn", two, quick=True, workers=2, log=lines.append) == 0
    regraded = [line for line in lines if line.startswith("[")]
    assert len(regraded) == 1 and Path(QUICK[0]).stem in regraded[0]

    lines.clear()
    assert grade_paths([submissions], "fashion_cnn", two, quick=True, workers=2, force=True, log=lines.append) == 0
    assert len([line for line in lines if line.startswith("[")]) == len(QUICK)


@pytest.mark.kernel
def test_ctrl_c_keeps_every_finished_result_and_the_next_run_resumes(tmp_path):
    names = QUICK + ["name_error--passed--plt_not_imported.ipynb"]
    submissions = copies(tmp_path / "class", names)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "grade", str(submissions), "--exercise", "fashion_cnn",
               "--quick", "--workers", "1", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"},
                               # as from a terminal: pytest-xdist's workers ignore SIGINT, and a child
                               # started with it ignored would never see the Ctrl-C
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("[1/"):
            process.send_signal(signal.SIGINT)
            break
    rest = process.communicate(timeout=120)[0]
    assert process.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest and "run the same command again" in rest
    finished = sorted(p.parent.name for p in out.glob("*/results.json"))
    assert 1 <= len(finished) < len(names)
    for path in out.glob("*/results.json"):
        json.loads(path.read_text())  # every result written is whole
    assert (out / "index.html").is_file()

    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{len(finished)} of {len(names)} unchanged" in completed.stdout
    assert len(list(out.glob("*/results.json"))) == len(names)
