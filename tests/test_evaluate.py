"""From evidence to a whole result: the pipeline's short-cuts (layer 1, hand-made evidence)."""

from __future__ import annotations

from grader.evidence import CellError, CellRun, Evidence
from grader.evaluate import evaluate, failed_build
from grader.exercises import load_spec
from grader.reference import load_expected
from grader.results import Outcome, codes, max_score, total_score


def grade(evidence: Evidence):
    spec = load_spec("fashion_cnn")
    return evaluate(spec, load_expected(spec.reference), evidence, "student")


def test_a_run_the_probe_could_not_watch_is_the_graders_error_not_the_students():
    result = grade(Evidence(kind="notebook", cells=(CellRun(1, "x = 1", "ok"),),
                            meta={"probe": "the probe could not be installed: ModuleNotFoundError"}))
    execution, architecture, pooling, *trained = result.checks
    assert execution.outcome is Outcome.ERROR and [d.code for d in execution.diagnoses] == ["no_evidence"]
    assert execution.diagnoses[0].kind.audience == "instructor"
    assert architecture.outcome is Outcome.ERROR and not architecture.diagnoses
    assert pooling.outcome is Outcome.ERROR
    assert all(check.outcome is Outcome.ERROR and not check.diagnoses for check in trained)


def test_an_unreadable_notebook_gets_one_diagnosis_and_no_points():
    result = grade(Evidence(kind="notebook", invalid="it is not valid JSON"))
    assert codes(result) == {"invalid_notebook"}
    assert total_score(result) == 0 and max_score(result) == 15
    assert all(check.outcome is Outcome.ERROR for check in result.checks)


def test_no_model_and_no_error_is_a_missing_model():
    result = grade(Evidence(kind="notebook", cells=(CellRun(1, "x = 1", "ok"),)))
    assert codes(result) == {"missing_model"}
    assert failed_build(Evidence(kind="notebook"), {}) is None


def test_a_failing_cell_before_any_model_names_that_cell_in_missing_model():
    failing = CellRun(1, "import google.colab", "error", CellError("ModuleNotFoundError", "No module named 'google.colab'"))
    result = grade(Evidence(kind="notebook", cells=(failing,)))
    assert codes(result) == {"missing_module", "missing_model"}
    (missing,) = result.checks[1].diagnoses
    assert "cell 1" in missing.field("where")
