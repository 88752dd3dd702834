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


# plain data ---------------------------------------------------------------------------------------
# A result crosses a process boundary (a Dask worker hands it back) and is kept in results.json
# (a resumed batch reads it back) as JSON-able data; `result_from_data` rebuilds the same object.

def result_to_data(result: SubmissionResult) -> dict:
    return {
        "submission": result.submission, "exercise": result.exercise, "kind": result.kind, "mode": result.mode,
        "meta": result.meta, "sources": {str(cell): text for cell, text in result.sources.items()},
        "checks": [{"check": check.check, "name": check.name, "outcome": check.outcome.value, "score": check.score,
                    "max_score": check.max_score, "visibility": check.visibility, "summary": check.summary,
                    "data": check.data, "model": check.model,
                    "diagnoses": [_diagnosis_to_data(diagnosis) for diagnosis in check.diagnoses]}
                   for check in result.checks],
    }


def result_from_data(data: dict) -> SubmissionResult:
    """The result `result_to_data` wrote; KeyError or ValueError when the data is not one."""
    checks = tuple(CheckResult(
        check=item["check"], name=item["name"], outcome=Outcome(item["outcome"]), score=float(item["score"]),
        max_score=float(item["max_score"]), visibility=item["visibility"], summary=item["summary"],
        data=dict(item["data"]), model=item["model"],
        diagnoses=tuple(_diagnosis_from_data(diagnosis) for diagnosis in item["diagnoses"]),
    ) for item in data["checks"])
    sources = {int(cell) if str(cell).isdigit() else cell: text for cell, text in data["sources"].items()}
    return SubmissionResult(submission=data["submission"], exercise=data["exercise"], kind=data["kind"],
                            checks=checks, mode=data["mode"], meta=dict(data["meta"]), sources=sources)


def _diagnosis_to_data(diagnosis: Diagnosis) -> dict:
    return {"code": diagnosis.code, "fields": [[name, value] for name, value in diagnosis.fields],
            "cell": diagnosis.cell, "layer": diagnosis.layer, "detail": diagnosis.detail, "line": diagnosis.line,
            "consequences": list(diagnosis.consequences)}


def _diagnosis_from_data(data: dict) -> Diagnosis:
    return Diagnosis(code=data["code"], fields=tuple((name, _frozen(value)) for name, value in data["fields"]),
                     cell=data["cell"], layer=data["layer"], detail=data["detail"], line=data["line"],
                     consequences=tuple(data["consequences"]))


def _frozen(value):
    """JSON turned the tuples a check passed into lists; a diagnosis holds them as tuples again."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value
