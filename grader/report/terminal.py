"""A submission's result as plain text for a terminal: what a student reads after a self-check."""

from __future__ import annotations

from ..results import Outcome, SubmissionResult, max_score, total_score
from .feedback import diagnosis_lines, student_diagnoses

MARKS = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.ERROR: "ERROR", Outcome.SKIPPED: "SKIP"}


def render_text(result: SubmissionResult) -> str:
    lines = [f"{result.submission} ({result.exercise}, {result.mode} mode): "
             f"{total_score(result):g} / {max_score(result):g} points"]
    for check in result.checks:
        lines.append(f"  [{MARKS[check.outcome]:<5}] {check.name}: {check.score:g} / {check.max_score:g}"
                     + (f" - {check.summary}" if check.summary else ""))
        lines.extend(f"      {line}" for diagnosis in student_diagnoses(check) for line in diagnosis_lines(diagnosis))
    return "\n".join(lines)
