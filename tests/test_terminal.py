"""The terminal view renders the results model and nothing else (layer 1)."""

from __future__ import annotations

from grader.diagnoses import diagnose
from grader.report.terminal import render_text
from grader.results import CheckResult, Outcome, SubmissionResult


def test_terminal_view_shows_each_check_and_each_students_diagnosis_with_its_fix():
    typo = diagnose("attribute_typo", cell=3, owner="model", attribute="evalute", suggestion="evaluate")
    hidden = diagnose("not_recomputed", layers="lambda")
    result = SubmissionResult("alice", "fashion_cnn", "notebook", mode="quick", checks=(
        CheckResult("execution", "Notebook runs", Outcome.FAILED, 0.0, 1.0, summary="1 problem", diagnoses=(typo,)),
        CheckResult("architecture", "Architecture", Outcome.PASSED, 6.0, 6.0, diagnoses=(hidden,)),
        CheckResult("pooling", "Feature maps", Outcome.SKIPPED, 0.0, 1.0),
    ))
    text = render_text(result)
    assert text.splitlines()[0] == "alice (fashion_cnn, quick mode): 6 / 8 points"
    assert "[FAIL ] Notebook runs: 0 / 1 - 1 problem" in text
    assert "[PASS ] Architecture: 6 / 6" in text and "[SKIP ] Feature maps: 0 / 1" in text
    assert typo.message in text and typo.hint in text
    assert hidden.message not in text  # instructor diagnoses stay in results.json
