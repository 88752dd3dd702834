"""What a student reads, shared by every view: which checks they see, the lines under each, and
the note about the checks they do not see.

The terminal, the pytest self-check, Gradescope's output and the HTML page all take their words
from here and from the diagnosis catalogue, so the same evidence reads the same everywhere.
"""

from __future__ import annotations

from ..diagnoses import Diagnosis
from ..results import CheckResult, Outcome, SubmissionResult

HIDDEN_WORDS = {
    "after_due_date": "graded after the deadline",
    "after_published": "shown when the grades are published",
    "hidden": "graded without being shown here",
}
"""Visibility -> how the note about checks a student does not see words them."""

OUTCOME_WORDS = {Outcome.PASSED: "passed", Outcome.FAILED: "failed", Outcome.ERROR: "not judged",
                 Outcome.SKIPPED: "skipped"}


def student_checks(result: SubmissionResult) -> list[CheckResult]:
    """The checks a student sees before the deadline: those whose visibility is `visible`."""
    return [check for check in result.checks if check.visibility == "visible"]


def hidden_note(result: SubmissionResult) -> str | None:
    """'2 checks are graded after the deadline.': how many checks are not shown, never which."""
    counts: dict[str, int] = {}
    for check in result.checks:
        if check.visibility != "visible":
            counts[check.visibility] = counts.get(check.visibility, 0) + 1
    parts = []
    for visibility, words in HIDDEN_WORDS.items():
        count = counts.get(visibility, 0)
        if count:
            parts.append(f"{count} check{'s are' if count > 1 else ' is'} {words}")
    if not parts:
        return None
    return "; ".join(parts) + "."


def student_diagnoses(check: CheckResult) -> list[Diagnosis]:
    """The diagnoses a student reads (not the instructor's notes on the grading set-up)."""
    return [diagnosis for diagnosis in check.diagnoses if diagnosis.kind.audience == "student"]


def diagnosis_lines(diagnosis: Diagnosis) -> list[str]:
    """A diagnosis as a student reads it: what is wrong, how to fix it, what else it caused."""
    lines = [f"- {diagnosis.message}", f"  How to fix: {diagnosis.hint}"]
    if diagnosis.consequence_note:
        lines.append(f"  {diagnosis.consequence_note}")
    return lines


def check_lines(check: CheckResult) -> list[str]:
    """Everything a student reads under one check: its summary, then each diagnosis."""
    lines = ["Skipped."] if check.outcome is Outcome.SKIPPED else []
    if check.summary:
        lines.append(check.summary)
    for diagnosis in student_diagnoses(check):
        lines.extend(diagnosis_lines(diagnosis))
    return lines
