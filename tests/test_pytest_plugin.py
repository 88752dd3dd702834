"""The student self-check: the pytest plugin (run with pytester, in a pytest of its own) and
`cnngrader check`, on fashion_cnn's example submissions.

Each quick grading costs a kernel importing TensorFlow (12-20 s), so five gradings serve every
assertion: the correct notebook from a clone, the wrong one through pytest and through
`cnngrader check` (compared line for line), the correct module through both (skips do not fail).
The runs that grade nothing (usage errors, no --notebook) are in the quick loop.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from grader.exercises import load_spec
from grader.pytest_plugin import failure_lines, item_name
from grader.report.feedback import diagnosis_lines, hidden_note, student_checks, student_diagnoses
from grader.results import Outcome, codes
from grader.selfcheck import grade_for_self_check, run_self_check

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = ROOT / "exercises" / "fashion_cnn"
EXAMPLES = ROOT / "examples" / "submissions" / "fashion_cnn"
CORRECT = EXAMPLES / "clean--passed--correct.ipynb"
WRONG = EXAMPLES / "layer_missing--failed--no_dropout.ipynb"
MODULE = EXAMPLES / "clean--passed--correct_module.py"
SPEC = load_spec("fashion_cnn")
PUBLIC = [check for check in SPEC.checks if check.visibility == "visible"]
HIDDEN = [check for check in SPEC.checks if check.visibility != "visible"]
NO_CACHE = ("-p", "no:cacheprovider")  # the clone form's rootdir is the source tree


def repo_addopts() -> str:
    """The clone's own addopts (`-n auto ...`): a self-check must grade once under them."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]


def output_of(run: pytest.RunResult) -> str:
    return run.stdout.str() + "\n" + run.stderr.str()


def assert_graded_once_in_one_process(text: str) -> None:
    # xdist says "created: 2/2 workers" and "2 workers [6 items]" when it distributes.
    assert "created:" not in text and " workers [" not in text and "[gw" not in text, text


def assert_no_traceback_and_no_hidden_check(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text, text
    assert "pytest_plugin.py" not in text and "selfcheck.py" not in text, text
    for check in HIDDEN:
        assert check.name not in text and f"::{item_name(check)}" not in text, text


def cnngrader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.kernel
def test_a_correct_notebook_passes_from_a_clone_with_one_item_per_public_check(pytester):
    run = pytester.runpytest_subprocess("--notebook", str(CORRECT), str(EXERCISE), "-v", *NO_CACHE, timeout=600)
    text = output_of(run)
    assert run.ret == 0, text
    assert "configfile: pyproject.toml" in text  # the clone's addopts, -n auto among them, applied
    assert_graded_once_in_one_process(text)
    assert run.parseoutcomes() == {"passed": len(PUBLIC)}, text
    for check in PUBLIC:
        assert f"exercise.toml::{item_name(check)} PASSED" in text, text
    assert_no_traceback_and_no_hidden_check(text)
    assert "1 check is graded after the deadline." in text


@pytest.mark.slow
@pytest.mark.kernel
def test_a_wrong_notebook_fails_with_the_same_lines_in_pytest_and_in_cnngrader_check(pytester, capsys):
    notebook = pytester.path / "my_work.ipynb"
    shutil.copy(WRONG, notebook)
    graded = []

    def grade(*args, **kwargs):
        graded.append(grade_for_self_check(*args, **kwargs))
        return graded[-1]

    assert run_self_check(notebook, "fashion_cnn", grade=grade) == 1
    shown = capsys.readouterr().out
    result = graded[0]
    assert "layer_missing" in codes(result)
    failing = [check for check in student_checks(result) if check.outcome not in (Outcome.PASSED, Outcome.SKIPPED)]
    assert [check.check for check in failing] == ["architecture"]
    note = hidden_note(result)
    assert note and note in shown

    pytester.makeini(f"[pytest]\naddopts = {repo_addopts()}\n")
    run = pytester.runpytest_subprocess("--notebook", "my_work.ipynb", "--exercise", "fashion_cnn", timeout=600)
    text = output_of(run)
    assert run.ret == 1, text
    assert_graded_once_in_one_process(text)
    assert run.parseoutcomes() == {"failed": 1, "passed": len(PUBLIC) - 1}, text
    assert "\n".join(failure_lines(failing[0])) in text, text
    assert note in text
    shown_lines = [line.strip() for line in shown.splitlines()]
    for diagnosis in student_diagnoses(failing[0]):
        for line in diagnosis_lines(diagnosis):
            assert line.strip() in shown_lines, shown
    for output in (text, shown):
        assert_no_traceback_and_no_hidden_check(output)


@pytest.mark.slow
@pytest.mark.kernel
def test_checks_skipped_for_a_module_do_not_fail_the_self_check(pytester):
    checked = cnngrader("check", str(MODULE), "--exercise", "fashion_cnn")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[SKIP ]" in checked.stdout and "1 check is graded after the deadline." in checked.stdout
    assert_no_traceback_and_no_hidden_check(checked.stdout + checked.stderr)

    shutil.copy(MODULE, pytester.path / "my_module.py")
    run = pytester.runpytest_subprocess("--notebook", "my_module.py", "--exercise", "fashion_cnn", "-rs", timeout=600)
    text = output_of(run)
    assert run.ret == 0, text
    outcomes = run.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 1 and sum(outcomes.values()) == len(PUBLIC), text
    assert "Not checked for a module" in text  # the skipped check's summary is the reason
    assert_no_traceback_and_no_hidden_check(text)


def test_without_notebook_the_plugin_collects_nothing(pytester):
    run = pytester.runpytest_subprocess(str(EXERCISE), "--collect-only", *NO_CACHE)
    assert run.ret == pytest.ExitCode.NO_TESTS_COLLECTED, output_of(run)
    assert "exercise.toml" not in run.stdout.str()


@pytest.mark.parametrize(("args", "words"), [
    (("--notebook", "absent.ipynb", "--exercise", "fashion_cnn"), ("absent.ipynb",)),
    (("--notebook", "my_work.ipynb", "--exercise", "no_such"), ("no_such", "fashion_cnn")),
    (("--notebook", "my_work.ipynb"), ("--exercise",)),
    (("--exercise", "fashion_cnn"), ("--notebook",)),
])
def test_plugin_usage_errors_are_one_message_without_a_traceback(pytester, args, words):
    shutil.copy(WRONG, pytester.path / "my_work.ipynb")
    run = pytester.runpytest_subprocess(*args)
    assert run.ret == pytest.ExitCode.USAGE_ERROR, output_of(run)
    assert all(word in run.stderr.str() for word in words), output_of(run)
    assert "Traceback" not in output_of(run)


@pytest.mark.parametrize(("args", "words"), [
    (("absent.ipynb", "--exercise", "fashion_cnn"), ("absent.ipynb",)),
    ((str(WRONG), "--exercise", "no_such"), ("no_such", "fashion_cnn")),
    ((str(EXAMPLES), "--exercise", "fashion_cnn"), ("folder",)),
])
def test_cnngrader_check_called_wrongly_exits_2_with_one_line(args, words):
    checked = cnngrader("check", *args)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert checked.stdout == "" and len(checked.stderr.strip().splitlines()) == 1, checked.stderr
    assert all(word in checked.stderr for word in words), checked.stderr
