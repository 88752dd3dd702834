"""The one results model: what every check produces and every reporter renders.

Frozen dataclasses; totals are computed by functions, never stored; an override builds a new
object with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .diagnoses import Diagnosis


class Outcome(str, Enum):
    """How a check ended. `failed`: the work is wrong; `error`: it could not be judged."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check on one submission."""

    check: str
    """Check id, a public name (`architecture`, `pooling`, `execution`)."""
    name: str
    """What the student sees as the test's name (`Architecture of the CNN`)."""
    outcome: Outcome
    score: float
    max_score: float
    visibility: str = "visible"
    """Gradescope visibility: visible, hidden, after_due_date or after_published."""
    summary: str = ""
    """One plain sentence saying what was checked and how it went."""
    diagnoses: tuple[Diagnosis, ...] = ()
    data: dict = field(default_factory=dict, compare=False, hash=False)
    """Plain data for richer views (the aligned layer table, the size trace)."""
    model: str | None = None
    """The spec's model key, for a check that exists once per model (`cnn`); None otherwise."""


@dataclass(frozen=True)
class SubmissionResult:
    """Everything the grader concluded about one submission."""

    submission: str
    """The submission's name (file or folder name without suffix)."""
    exercise: str
    kind: str
    """notebook, module or saved_model."""
    checks: tuple[CheckResult, ...]
    mode: str = "full"
    """full or quick."""
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    """Grader version, duration, data served to the kernel: for instructors. `meta["versions"]`
    holds what produced the result (grader.versions.run_versions)."""
    sources: dict = field(default_factory=dict, compare=False, hash=False)
    """Cell number -> that cell's source, for every cell a diagnosis or a view points at, so a
    report can show the student's code around the line."""


def total_score(result: SubmissionResult) -> float:
    return round(sum(check.score for check in result.checks), 4)


def max_score(result: SubmissionResult) -> float:
    return round(sum(check.max_score for check in result.checks), 4)


def all_diagnoses(result: SubmissionResult) -> list[Diagnosis]:
    return [diagnosis for check in result.checks for diagnosis in check.diagnoses]


def codes(result: SubmissionResult) -> set[str]:
    return {diagnosis.code for diagnosis in all_diagnoses(result)}
