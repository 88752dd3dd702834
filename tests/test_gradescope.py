"""The results.json contract: Gradescope's documented fields, plus our extra_data (layer 1)."""

from __future__ import annotations

import json

import pytest

from grader.diagnoses import diagnose
from grader.report.gradescope import to_gradescope, write_results
from grader.results import CheckResult, Outcome, SubmissionResult

GRADESCOPE_TEST_FIELDS = {"name": str, "score": (int, float), "max_score": (int, float), "status": str,
                          "output": str, "visibility": str}


def sample_result() -> SubmissionResult:
    collapse = diagnose("pooling_collapse", cell=6, layer="max_pooling2d_2", class_name="MaxPooling2D",
                        size_in="1x1", window="2x2", size_out="0x0", trace="32x32 -conv2d-> 16x16")
    typo = diagnose("attribute_typo", cell=3, owner="model", attribute="evalute", suggestion="evaluate")
    return SubmissionResult(
        submission="alice", exercise="cnn_transfer", kind="notebook", mode="quick",
        checks=(
            CheckResult("execution", "Notebook runs", Outcome.FAILED, 0.0, 1.0, summary="1 problem", diagnoses=(typo,)),
            CheckResult("architecture", "Architecture", Outcome.PASSED, 6.0, 6.0, summary="ok"),
            CheckResult("pooling", "Feature maps", Outcome.FAILED, 0.0, 2.0, "hidden", "collapse", (collapse,)),
            CheckResult("architecture", "Other", Outcome.SKIPPED, 0.0, 1.0, summary="not run"),
        ),
    )


def test_results_have_gradescope_fields_with_their_types():
    results = to_gradescope(sample_result())
    assert results["score"] == 6.0
    assert isinstance(results["output"], str) and results["visibility"] in ("visible", "hidden")
    for test in results["tests"]:
        for field, kind in GRADESCOPE_TEST_FIELDS.items():
            assert isinstance(test[field], kind), field
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert test["score"] <= test["max_score"]
    json.dumps(results)  # plain data only


@pytest.mark.parametrize("index, check, outcome, status", [
    (0, "execution", "failed", "failed"), (1, "architecture", "passed", "passed"),
    (2, "pooling", "failed", "failed"), (3, "architecture", "skipped", "failed"),
])
def test_each_test_carries_its_check_id_and_outcome(index, check, outcome, status):
    test = to_gradescope(sample_result())["tests"][index]
    assert (test["extra_data"]["check"], test["extra_data"]["outcome"], test["status"]) == (check, outcome, status)


def test_diagnoses_are_listed_with_code_message_hint_and_location():
    tests = to_gradescope(sample_result())["tests"]
    (typo,) = tests[0]["extra_data"]["diagnoses"]
    assert typo["code"] == "attribute_typo" and typo["cell"] == 3 and "layer" not in typo
    assert typo["message"] and typo["hint"]
    (collapse,) = tests[2]["extra_data"]["diagnoses"]
    assert (collapse["code"], collapse["layer"], collapse["cell"]) == ("pooling_collapse", "max_pooling2d_2", 6)
    assert typo["message"] in tests[0]["output"] and typo["hint"] in tests[0]["output"]


def test_the_file_written_is_the_same_json(tmp_path):
    path = write_results(sample_result(), tmp_path / "alice")
    assert json.loads(path.read_text()) == json.loads(json.dumps(to_gradescope(sample_result()), default=str))
