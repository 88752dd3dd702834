"""What every check is given: the spec, the expected file, the evidence and what is derived from
them once per submission (recomputed tables, which model answers which role).

Plain data, built by `evaluate` before the first check runs; checks read it and never change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnoses import Diagnosis, diagnose
from ..evidence import Evidence, ModelEvaluation
from ..exercises import CheckSpec, ExerciseSpec, ModelSpec
from ..layers import LayerRow, LayerTable
from ..results import CheckResult, Outcome
from .models import FoundModel


@dataclass(frozen=True)
class Grading:
    spec: ExerciseSpec
    expected: dict
    evidence: Evidence
    submission: str
    mode: str
    """full, quick or artifacts."""
    tables: dict[int, LayerTable]
    """Model id -> its table recomputed from the config."""
    expected_rows: dict[str, tuple[LayerRow, ...]]
    found: dict[str, FoundModel | None]
    """Role (the spec's model key) -> the submitted model chosen to answer it."""
    missing_note: str = ""
    build_failure: str | None = None
    artifacts: dict = field(default_factory=dict)
    """Role -> key of the uploaded file graded in its place (--artifacts mode)."""
    missing_artifacts: dict = field(default_factory=dict)
    """Role -> the file name --artifacts mode expected and did not get."""
    unreadable: dict = field(default_factory=dict)
    """Model id -> what could not be read of its config: models with no table, never left out
    silently (see `checks/models.py`)."""

    def model_spec(self, key: str) -> ModelSpec:
        return self.spec.model(key)

    def evaluation_of(self, role: str) -> ModelEvaluation | None:
        """The predictions that count for a role: its uploaded file's, else its model's."""
        evaluation = self.evidence.evaluation
        if evaluation is None:
            return None
        if role in self.artifacts:
            return evaluation.models.get(self.artifacts[role])
        found = self.found.get(role)
        return evaluation.of_model(found.record.id) if found is not None else None

    def accuracy_of(self, role: str) -> float | None:
        model_evaluation = self.evaluation_of(role)
        if model_evaluation is None or self.evidence.evaluation is None:
            return None
        return self.evidence.evaluation.accuracy(model_evaluation.key, self.model_spec(role).labels)


def result(check: CheckSpec, outcome: Outcome, fraction: float, summary: str,
           diagnoses: list[Diagnosis] | tuple[Diagnosis, ...] = (), data: dict | None = None) -> CheckResult:
    """A check's result with its score as a fraction of its points."""
    score = round(check.points * min(max(fraction, 0.0), 1.0), 4)
    return CheckResult(check.id, check.name, outcome, score, check.points, check.visibility, summary,
                       tuple(diagnoses), data=data or {})


def first_failure(grading: Grading) -> str | None:
    """Where the run first failed ('cell 3', or 'your code' in a module), or None when everything ran. What did
    not happen after a failure (no `fit`, no file written) is its consequence, not a second fault."""
    for run in grading.evidence.cells:
        if run.status in ("error", "timeout"):
            return f"cell {run.cell}" if run.cell is not None else "your code"
    return None


def consequence(check: CheckSpec, what: str, failure: str, fraction: float = 0.0) -> CheckResult:
    """The result of a check whose subject never happened because the run failed first: no
    diagnosis of its own, the execution check's explains the root cause."""
    return result(check, Outcome.ERROR, fraction,
                  f"Not judged: {what}, because {failure} failed first (see the execution check).")


def unfound(grading: Grading, check: CheckSpec) -> CheckResult | None:
    """The result of a check about a model that was not found: not judged, and no diagnosis of
    its own, since the architecture check already explains the root cause (`missing_model`)."""
    if grading.found.get(check.model) is not None or check.model in grading.artifacts:
        return None
    return result(check, Outcome.ERROR, 0.0,
                  f"Not checked: {grading.model_spec(check.model).title} was not found (see its architecture check).")


def not_measured(grading: Grading, check: CheckSpec, evaluation: ModelEvaluation | None,
                 what: str, label_set: str = "default") -> CheckResult | None:
    """The result when `what` could not be measured from `evaluation`: the evaluation process ran
    out of time, Keras refused the file (a Lambda layer, a class of the notebook's), another error,
    or predictions that cannot be scored against `label_set`. None when there is an accuracy."""
    process = grading.evidence.evaluation
    if process is not None and process.stopped == "timeout" and (evaluation is None or evaluation.predicted is None):
        return result(check, Outcome.ERROR, 0.0, f"Not graded: the evaluation of {what} ran out of time.",
                      [diagnose("evaluation_timeout", seconds=f"{process.timeout or grading.spec.evaluation_timeout:.0f}")])
    if evaluation is None:
        return result(check, Outcome.ERROR, 0.0, f"Not graded: {what} could not be evaluated.",
                      [diagnose("not_evaluated", what=what)])
    if evaluation.predicted is not None:
        if process.accuracy(evaluation.key, label_set) is not None:
            return None
        return result(check, Outcome.ERROR, 0.0, f"Not graded: the predictions of {what} cannot be scored.",
                      [diagnose("not_evaluated", what=f"{what} (no {label_set!r} label for each of its predictions)")])
    lambdas = [name for class_name, name in evaluation.refused if class_name == "Lambda"]
    if lambdas:
        diagnosis = diagnose("lambda_layer", layer=lambdas[0], model=what)
    elif evaluation.refused:
        class_name, name = evaluation.refused[0]
        diagnosis = diagnose("custom_object", layer=name, class_name=class_name, model=what)
    else:
        diagnosis = diagnose("unloadable_model", path=what[:1].upper() + what[1:],
                             problem=evaluation.problem or "unknown error")
    return result(check, Outcome.ERROR, 0.0, f"Not graded: {what} could not be loaded by the grader.", [diagnosis])
