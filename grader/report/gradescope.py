"""Gradescope's results.json: the contract LMS scripts and our own tests read.

Fields as Gradescope's autograder specification defines them (score, output, tests[] with name,
score, max_score, status, output, visibility), plus `extra_data` on each test: the check id,
its four-valued outcome and its diagnoses as {code, message, hint, cell?, layer?}.
"""

from __future__ import annotations

import json
from pathlib import Path

import grader

from ..results import CheckResult, Outcome, SubmissionResult, max_score, total_score
from .feedback import check_lines

SCHEMA = "cnngrader.results/1"


def test_output(check: CheckResult) -> str:
    return "\n".join(check_lines(check))


def to_gradescope(result: SubmissionResult) -> dict:
    tests = []
    for check in result.checks:
        tests.append({
            "name": check.name,
            "score": check.score,
            "max_score": check.max_score,
            "status": "passed" if check.outcome is Outcome.PASSED else "failed",
            "output": test_output(check),
            "visibility": check.visibility,
            "extra_data": {
                "check": check.check,
                "outcome": check.outcome.value,
                "diagnoses": [diagnosis.to_json() for diagnosis in check.diagnoses],
                **({"view": check.data} if check.data else {}),
            },
        })
    return {
        "score": total_score(result),
        "output": overall_output(result),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "schema": SCHEMA,
            "grader_version": grader.__version__,
            "exercise": result.exercise,
            "submission": result.submission,
            "kind": result.kind,
            "mode": result.mode,
            "max_score": max_score(result),
            "meta": result.meta,
        },
    }


def overall_output(result: SubmissionResult) -> str:
    passed = sum(1 for check in result.checks if check.outcome is Outcome.PASSED)
    text = (f"{result.exercise}: {total_score(result):g} / {max_score(result):g} points; "
            f"{passed} of {len(result.checks)} checks passed.")
    if result.mode == "quick":
        text += " Quick self-check: training was capped, so accuracy is not graded here."
    return text


def write_results(result: SubmissionResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps(to_gradescope(result), indent=1, default=str) + "\n")
    return path
