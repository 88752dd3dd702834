"""The results.json contract: Gradescope's documented fields, plus our extra_data (layer 1).

`gradescope_problems` is Gradescope's results.json specification as a small schema (the fields it
documents, their types, the values it allows); every results.json the grader writes is checked
with it, here for hand-made and evaluated results and in test_gradescope_build.py for the ones
`run_autograder` writes.
"""

from __future__ import annotations

import json
import re

import pytest

import configs
from grader.diagnoses import diagnose
from grader.evaluate import error_result, evaluate
from grader.evidence import CellError, CellRun, Evidence
from grader.exercises import load_all, load_spec
from grader.reference import load_expected
from grader.report.gradescope import escape_markdown, to_gradescope, write_results
from grader.results import CheckResult, Outcome, SubmissionResult

NUMBER = (int, float)
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
FORMATS = ("text", "html", "simple_format", "md", "ansi")
TOP_FIELDS = {"score": NUMBER, "execution_time": NUMBER, "output": str, "output_format": str,
              "test_output_format": str, "test_name_format": str, "visibility": str,
              "stdout_visibility": str, "extra_data": dict, "tests": list, "leaderboard": list}
TEST_FIELDS = {"score": NUMBER, "max_score": NUMBER, "status": str, "name": str, "name_format": str,
               "number": str, "output": str, "output_format": str, "tags": list, "visibility": str,
               "extra_data": dict}
LEADERBOARD_FIELDS = {"name": str, "value": (int, float, str), "order": str}
CHOICES = {"output_format": FORMATS, "test_output_format": FORMATS, "test_name_format": FORMATS,
           "name_format": FORMATS, "visibility": VISIBILITIES, "stdout_visibility": VISIBILITIES,
           "status": ("passed", "failed"), "order": ("asc", "desc")}
OUTCOMES = {outcome.value for outcome in Outcome}


def _field_problems(where: str, data: dict, fields: dict) -> list[str]:
    problems = [f"{where}: unknown field {key!r}" for key in data if key not in fields]
    for key, kind in fields.items():
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            problems.append(f"{where}.{key}: {type(value).__name__} is not {kind}")
        elif key in CHOICES and value not in CHOICES[key]:
            problems.append(f"{where}.{key}: {value!r} is not one of {CHOICES[key]}")
    return problems


def gradescope_problems(results: dict) -> list[str]:
    """Every way `results` departs from Gradescope's documented results.json (empty: valid)."""
    problems = _field_problems("results", results, TOP_FIELDS)
    tests = results.get("tests", [])
    if "score" not in results and not all(isinstance(t, dict) and "score" in t for t in tests):
        problems.append("results: no top-level score and a test without one")
    for index, test in enumerate(tests if isinstance(tests, list) else []):
        problems += _field_problems(f"tests[{index}]", test, TEST_FIELDS)
        if not all(isinstance(tag, str) for tag in test.get("tags", [])):
            problems.append(f"tests[{index}].tags: not all strings")
    for index, entry in enumerate(results.get("leaderboard", [])):
        problems += _field_problems(f"leaderboard[{index}]", entry, LEADERBOARD_FIELDS)
        problems += [f"leaderboard[{index}]: no {key}" for key in ("name", "value") if key not in entry]
    try:
        json.dumps(results, allow_nan=False)
    except (TypeError, ValueError) as error:
        problems.append(f"results: not plain JSON ({error})")
    return problems


def our_problems(results: dict) -> list[str]:
    """Our own contract on top: Markdown outputs, and each test's check, outcome and diagnoses."""
    problems = [] if results.get("output_format") == "md" else ["results: output_format is not md"]
    for index, test in enumerate(results["tests"]):
        extra = test["extra_data"]
        if test.get("output_format") != "md":
            problems.append(f"tests[{index}]: output_format is not md")
        if not isinstance(extra.get("check"), str) or extra.get("outcome") not in OUTCOMES:
            problems.append(f"tests[{index}]: check or outcome missing")
        if not all({"code", "message", "hint"} <= set(d) for d in extra.get("diagnoses", [None])):
            problems.append(f"tests[{index}]: a diagnosis without code, message and hint")
        if (test["status"] == "passed") != (extra["outcome"] == "passed"):
            problems.append(f"tests[{index}]: status {test['status']} for outcome {extra['outcome']}")
        if test["score"] > test["max_score"]:
            problems.append(f"tests[{index}]: score over max_score")
    return problems


def assert_valid(results: dict) -> None:
    assert gradescope_problems(results) + our_problems(results) == []


def sample_result(**meta) -> SubmissionResult:
    collapse = diagnose("pooling_collapse", cell=6, layer="max_pooling2d_2", class_name="MaxPooling2D",
                        size_in="1x1", window="2x2", size_out="0x0", trace="32x32 -conv2d-> 16x16")
    typo = diagnose("attribute_typo", cell=3, owner="model", attribute="evalute", suggestion="evaluate")
    return SubmissionResult(
        submission="alice", exercise="cnn_transfer", kind="notebook", mode="quick", meta=meta,
        checks=(
            CheckResult("execution", "Notebook runs", Outcome.FAILED, 0.0, 1.0, summary="1 problem", diagnoses=(typo,)),
            CheckResult("architecture", "Architecture", Outcome.PASSED, 6.0, 6.0, summary="ok", model="extractor"),
            CheckResult("pooling", "Feature maps", Outcome.FAILED, 0.0, 2.0, "hidden", "collapse", (collapse,)),
            CheckResult("architecture", "Other", Outcome.SKIPPED, 0.0, 1.0, summary="not run", model="strided"),
        ),
    )


def fashion_result(evidence: Evidence, mode: str = "full") -> SubmissionResult:
    spec = load_spec("fashion_cnn")
    return evaluate(spec, load_expected(spec.reference), evidence, "student", mode)


def hostile_cell() -> CellRun:
    return CellRun(2, "print(<script>)", "error",
                   CellError("NameError", "name '<script>alert(1)</script>' is not defined"))


def evaluated_results() -> dict[str, SubmissionResult]:
    """Results the grader really produces, from hand-made evidence and its own error path."""
    results = {
        "invalid_notebook": fashion_result(Evidence(kind="notebook", invalid="it is not valid JSON")),
        "untrained_model": fashion_result(configs.evidence(configs.record(1, configs.fashion_cnn()))),
        "quick": fashion_result(configs.evidence(configs.record(1, configs.fashion_cnn())), "quick"),
        "hostile_error": fashion_result(Evidence(kind="notebook", cells=(hostile_cell(),))),
        "sample": sample_result(seconds=12.6, versions={"cnngrader": "0.1.0"}),
    }
    for spec in load_all():
        results[f"{spec.id}-unreadable"] = error_result(spec, "bob", "unknown", "the file is empty")
        results[f"{spec.id}-grader_error"] = error_result(spec, "bob", "notebook", "KeyError: 'x'", code="grader_error")
    return results


@pytest.mark.parametrize("name, result", list(evaluated_results().items()))
@pytest.mark.parametrize("leaderboard", [False, True])
def test_every_results_json_validates_against_gradescopes_fields(name, result, leaderboard):
    assert_valid(to_gradescope(result, leaderboard=leaderboard))


def test_the_schema_catches_what_gradescope_would_reject():
    results = to_gradescope(sample_result())
    broken = {**results, "visibility": "public", "score": "6", "colour": 1,
              "tests": [{**results["tests"][0], "status": "skipped", "max_score": True}],
              "leaderboard": [{"value": 0.9, "order": "up"}]}
    problems = " ".join(gradescope_problems(broken))
    for expected in ("results.visibility", "results.score", "'colour'", "tests[0].status", "tests[0].max_score",
                     "leaderboard[0]: no name", "leaderboard[0].order"):
        assert expected in problems


def test_results_have_gradescope_fields_with_their_types():
    results = to_gradescope(sample_result())
    assert results["score"] == 6.0
    assert results["output_format"] == "md" and all(test["output_format"] == "md" for test in results["tests"])
    assert "execution_time" not in results and "leaderboard" not in results


@pytest.mark.parametrize("index, check, outcome, status, model", [
    (0, "execution", "failed", "failed", None), (1, "architecture", "passed", "passed", "extractor"),
    (2, "pooling", "failed", "failed", None), (3, "architecture", "skipped", "failed", "strided"),
])
def test_each_test_carries_its_check_id_outcome_and_model(index, check, outcome, status, model):
    test = to_gradescope(sample_result())["tests"][index]
    extra = test["extra_data"]
    assert (extra["check"], extra["outcome"], test["status"], extra.get("model")) == (check, outcome, status, model)
    assert ("model" in extra) == (model is not None)


def test_visibility_comes_from_the_check_and_the_summary_counts_the_hidden():
    results = to_gradescope(sample_result())
    assert [test["visibility"] for test in results["tests"]] == ["visible", "visible", "hidden", "visible"]
    assert "1 check is graded without being shown here." in results["output"]


def test_per_model_checks_of_an_evaluated_result_name_their_model():
    tests = to_gradescope(fashion_result(configs.evidence(configs.record(1, configs.fashion_cnn()))))["tests"]
    assert {test["extra_data"]["check"]: test["extra_data"].get("model") for test in tests} == {
        "execution": None, "architecture": "cnn", "pooling": None, "training_setup": "cnn", "reload": "cnn",
        "feature_maps": "cnn", "accuracy": "cnn"}
    accuracy = next(test for test in tests if test["extra_data"]["check"] == "accuracy")
    assert accuracy["visibility"] == "after_due_date"


def test_diagnoses_are_listed_with_code_message_hint_and_location():
    tests = to_gradescope(sample_result())["tests"]
    (typo,) = tests[0]["extra_data"]["diagnoses"]
    assert typo["code"] == "attribute_typo" and typo["cell"] == 3 and "layer" not in typo
    assert typo["message"] and typo["hint"]
    (collapse,) = tests[2]["extra_data"]["diagnoses"]
    assert (collapse["code"], collapse["layer"], collapse["cell"]) == ("pooling_collapse", "max_pooling2d_2", 6)
    assert escape_markdown(typo["message"]) in tests[0]["output"]
    assert escape_markdown(typo["hint"]) in tests[0]["output"]


def test_execution_time_and_versions_come_from_the_meta():
    results = to_gradescope(sample_result(seconds=12.6, versions={"cnngrader": "0.1.0", "keras": "3.10"}))
    assert results["execution_time"] == 13
    assert results["extra_data"]["versions"] == {"cnngrader": "0.1.0", "keras": "3.10"}
    assert to_gradescope(sample_result())["extra_data"]["versions"] is None


def accuracy_check(model: str, value: float | None) -> CheckResult:
    data = {"accuracy": value} if value is not None else {}
    outcome = Outcome.PASSED if value is not None else Outcome.ERROR
    return CheckResult("accuracy", f"Accuracy of {model}", outcome, 1.0 if value else 0.0, 1.0,
                       "after_due_date", data=data, model=model)


@pytest.mark.parametrize("accuracies, entries", [
    ({"cnn": 0.91234}, [{"name": "Test accuracy", "value": 0.9123, "order": "desc"}]),
    ({"cnn": None}, []),
    ({"dense10": 0.91, "mlp": None, "cnn": 0.98},
     [{"name": "Test accuracy (dense10)", "value": 0.91, "order": "desc"},
      {"name": "Test accuracy (cnn)", "value": 0.98, "order": "desc"}]),
])
def test_the_leaderboard_holds_the_accuracies_the_grader_measured(accuracies, entries):
    result = SubmissionResult("alice", "mnist_models", "notebook",
                              tuple(accuracy_check(model, value) for model, value in accuracies.items()))
    assert to_gradescope(result, leaderboard=True)["leaderboard"] == entries
    assert "leaderboard" not in to_gradescope(result)


def _outside_code_spans(markdown: str) -> str:
    return re.sub(r"(?<!\\)(`+)(?!`)[^\n]+?(?<!`)\1(?!`)", "", markdown)


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
    "![x](http://example.com/t.png)", "**bold** _it_ ~~gone~~", "# heading\n> quote\n- item\n1. one",
    "``a`<img src=x onerror=alert(1)>", "`a\n# <img src=x onerror=alert(1)>`", "a & b | c",
])
def test_what_a_student_wrote_cannot_become_markup(text):
    escaped = escape_markdown(text)
    plain = _outside_code_spans(escaped)
    assert "<" not in plain and ">" not in plain
    for marker in ("[", "]", "*", "_", "~", "|"):
        assert re.search(r"(?<!\\)" + re.escape(marker), plain) is None, marker
    assert not re.search(r"^\s*(#|-|\d+\.)", plain, re.MULTILINE)


def test_code_spans_stay_code():
    assert escape_markdown("Use `model.evaluate` on `x_test`") == "Use `model.evaluate` on `x_test`"
    assert escape_markdown("`a<b>`") == "`a<b>`"


def test_a_hostile_error_message_shows_as_text_in_the_output():
    results = to_gradescope(fashion_result(Evidence(kind="notebook", cells=(hostile_cell(),))))
    output = "\n".join(test["output"] for test in results["tests"])
    assert "<script>" not in _outside_code_spans(output)
    assert "script" in output


def test_the_file_written_is_the_same_json(tmp_path):
    path = write_results(sample_result(), tmp_path / "alice")
    assert json.loads(path.read_text()) == json.loads(json.dumps(to_gradescope(sample_result()), default=str))
    assert [p.name for p in (tmp_path / "alice").iterdir()] == ["results.json"]


def test_the_file_written_can_carry_the_leaderboard(tmp_path):
    result = SubmissionResult("alice", "fashion_cnn", "notebook", (accuracy_check("cnn", 0.9),))
    path = write_results(result, tmp_path, leaderboard=True)
    assert json.loads(path.read_text())["leaderboard"] == [{"name": "Test accuracy", "value": 0.9, "order": "desc"}]
