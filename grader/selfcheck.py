"""The student self-check: one notebook or module graded in quick mode, as `cnngrader grade
--quick` grades it, and shown with the public checks only.

`cnngrader check` and the pytest plugin both grade through `grade_for_self_check`, so a student
gets the same verdicts and the same words from either; hidden checks are graded like the others
but only counted in the note under the result ("1 check is graded after the deadline.").
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from .exercises import ExerciseSpec
from .results import Outcome, SubmissionResult

class SelfCheckUsageError(ValueError):
    """The self-check was called wrongly: no such file, or an exercise that does not exist."""


def load_self_check(notebook: Path, exercise_id: str) -> ExerciseSpec:
    """The exercise to check `notebook` against; `SelfCheckUsageError` when either is wrong."""
    from .exercises import SpecError, load_spec

    if notebook.is_dir():
        raise SelfCheckUsageError(f"{notebook} is a folder: give the notebook (.ipynb) or module (.py) itself")
    if not notebook.is_file():
        raise SelfCheckUsageError(f"no such file: {notebook}")
    try:
        return load_spec(exercise_id)
    except SpecError as error:
        raise SelfCheckUsageError(str(error)) from None


def grade_for_self_check(notebook: Path, spec: ExerciseSpec, timeout: float | None = None,
                         data_dir: str | None = None) -> SubmissionResult:
    """Grade one notebook or module in quick mode in a temporary folder, as `grade --quick` does.
    A grader failure becomes a result with `grader_error`, as in a batch; missing data raises
    `DataUnavailable` (nothing can be checked without it)."""
    from .evaluate import error_result
    from .grading import find_submissions, grade_submission, prepare_run
    from .reference import load_expected

    expected = load_expected(spec.reference, keras=spec.keras)
    submission = find_submissions([notebook])[0]
    with tempfile.TemporaryDirectory(prefix="cnngrader-check-") as workdir:
        options = prepare_run(spec, Path(workdir), quick=True, timeout=timeout, data_dir=data_dir)
        try:
            return grade_submission(submission, spec, expected, options)
        except Exception as error:  # noqa: BLE001 - our bug still leaves the student a result
            return error_result(spec, submission.name, "unknown", f"{type(error).__name__}: {error}",
                                options.mode, code="grader_error")


def public_result(result: SubmissionResult) -> SubmissionResult:
    """The result as a student sees it before the deadline: the public checks only."""
    from .report.feedback import student_checks

    return replace(result, checks=tuple(student_checks(result)))


def self_check_passed(result: SubmissionResult) -> bool:
    """Every public check passed; a skipped one (a training check in quick mode) does not fail."""
    return all(check.outcome in (Outcome.PASSED, Outcome.SKIPPED) for check in public_result(result).checks)


def render_self_check(result: SubmissionResult) -> str:
    """The terminal view of the public checks, then how many checks are not shown."""
    from .report.feedback import hidden_note
    from .report.terminal import render_text

    note = hidden_note(result)
    return render_text(public_result(result)) + (f"\n{note}" if note else "")


def run_self_check(notebook: Path, exercise_id: str, timeout: float | None = None,
                   data_dir: str | None = None, grade=grade_for_self_check, keras: int | None = None) -> int:
    """`cnngrader check`: 0 when every public check passed, 1 otherwise, 2 when called wrongly
    (or in Keras 2 mode where tf-keras is not installed). `grade` is the grading function (tests
    pass one that keeps the result); `keras` overrides the exercise's Keras mode."""
    from .data import DataUnavailable
    from .runner.keras2 import Keras2Unavailable

    notebook = Path(notebook)
    try:
        spec = load_self_check(notebook, exercise_id)
        if keras is not None:
            spec = replace(spec, keras=keras)
        result = grade(notebook, spec, timeout=timeout, data_dir=data_dir)
    except (SelfCheckUsageError, Keras2Unavailable) as error:
        print(f"cnngrader check: {error}", file=sys.stderr)
        return 2
    except DataUnavailable as error:
        print(f"cnngrader check: {error}", file=sys.stderr)
        return 1
    print(render_self_check(result))
    return 0 if self_check_passed(result) else 1
