"""Accuracy: the grader's own measure of a model, from the predictions of the evaluation process
against labels the submission never held.

Full points at or above the pass mark the expected file records, linear partial credit down to
its floor, none below. A model whose weights are the ones it was created with gets `not_trained`
(from the weight fingerprints, not from accuracy); one below the pass mark gets
`accuracy_below_threshold` with the band the reference reached over its seeds.
"""

from __future__ import annotations

import numpy as np

from ..data import FASHION_CLASSES, FASHION_COARSE_CLASSES
from ..diagnoses import diagnose
from ..exercises import CheckSpec
from ..results import CheckResult, Outcome
from .alignment import canonical_class
from .artifacts import artifact_table
from .context import Grading, consequence, first_failure, not_measured, result, unfound
from .weights import never_trained


def credit(value: float, threshold: dict) -> float:
    """1 at or above the pass mark, 0 at or below the floor, linear between."""
    passing, floor = float(threshold["pass"]), float(threshold["floor"])
    if value >= passing:
        return 1.0
    if value <= floor or passing <= floor:
        return 0.0
    return (value - floor) / (passing - floor)


def reference_band(expected: dict, metric: str) -> str:
    summary = expected.get("metrics", {}).get(metric)
    if not summary:
        return "not recorded"
    seeds = len(summary.get("values", [])) or expected.get("recorded", {}).get("seeds", "?")
    return f"{summary['min']:.3f} to {summary['max']:.3f} over {seeds} seeds"


def check_accuracy(grading: Grading, check: CheckSpec) -> CheckResult:
    model = grading.model_spec(check.model)
    found = grading.found.get(check.model)
    if check.model in grading.missing_artifacts:
        path = grading.missing_artifacts[check.model]
        return result(check, Outcome.FAILED, 0.0, f"The file of {model.title} was not uploaded.",
                      [diagnose("missing_upload", path=path, model=model.title)])
    mismatch = _artifact_mismatch(grading, check.model)
    if mismatch is not None:
        return result(check, Outcome.FAILED, 0.0, f"The uploaded file is not {model.title} your notebook builds.",
                      [mismatch])
    missing = unfound(grading, check)
    if missing is not None:
        return missing
    if check.model not in grading.artifacts and never_trained(grading.evidence, found.record.id):
        failure = first_failure(grading)
        if failure and not any(fit.model_id == found.record.id for fit in grading.evidence.fits):
            return consequence(check, f"{model.title} was never trained", failure)
        return result(check, Outcome.FAILED, 0.0, f"{_title(model.title)} was never trained.",
                      [diagnose("not_trained", model=model.title, name=_name(found, model))])
    problem = not_measured(grading, check, grading.evaluation_of(check.model), model.title, model.labels)
    if problem is not None:
        return problem
    value = grading.accuracy_of(check.model)
    threshold = grading.expected["thresholds"][model.metric]
    fraction = credit(value, threshold)
    evaluation = grading.evidence.evaluation
    data = {"accuracy": round(value, 4), "pass": threshold["pass"], "floor": threshold["floor"],
            "metric": model.metric, "band": reference_band(grading.expected, model.metric),
            "images": evaluation.source, "model_id": found.record.id if found else None,
            "artifact": grading.artifacts.get(check.model),
            **prediction_views(grading, check.model),
            "curves": reported_curves(grading, found)}
    summary = grading.expected.get("metrics", {}).get(model.metric)
    if summary:
        data["reference"] = {key: summary[key] for key in ("min", "mean", "max") if key in summary}
    if fraction >= 1.0:
        return result(check, Outcome.PASSED, 1.0, f"{_title(model.title)} scores {value:.3f} on "
                      f"{evaluation.source} (pass mark {threshold['pass']:.3f}).", data=data)
    diagnosis = diagnose("accuracy_below_threshold", model=model.title, value=f"{value:.3f}",
                         pass_mark=f"{threshold['pass']:.3f}", floor=f"{threshold['floor']:.3f}",
                         band=data["band"], images=evaluation.source)
    return result(check, Outcome.FAILED, fraction, f"{_title(model.title)} scores {value:.3f}, below the "
                  f"pass mark {threshold['pass']:.3f}.", [diagnosis], data=data)


MISCLASSIFIED_SHOWN = 8


def prediction_views(grading: Grading, role: str) -> dict:
    """The confusion matrix and a few misclassified images (at most one per true class, the first
    of each), from the predictions the grader computed: what the report draws."""
    predicted = grading.evaluation_of(role).predicted
    label_set = grading.model_spec(role).labels
    labels = grading.evidence.evaluation.labels[label_set]
    count = int(max(predicted.max(initial=0), labels.max(initial=0))) + 1
    matrix = np.zeros((count, count), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    wrong = np.flatnonzero(predicted != labels)
    shown, seen = [], set()
    for index in wrong:
        if int(labels[index]) not in seen:
            seen.add(int(labels[index]))
            shown.append({"index": int(index), "label": int(labels[index]), "predicted": int(predicted[index])})
        if len(shown) == MISCLASSIFIED_SHOWN:
            break
    return {"confusion": {"classes": class_names(grading.spec.dataset, label_set, count),
                          "matrix": matrix.tolist()},
            "misclassified": shown}


def class_names(dataset: str, label_set: str, count: int) -> list[str]:
    """Names of the classes where the grader knows them, else their numbers."""
    known = {("fashion_mnist", "default"): FASHION_CLASSES, ("mnist", "default"): tuple("0123456789"),
             ("fashion_mnist", "coarse"): FASHION_COARSE_CLASSES}.get((dataset, label_set), ())
    return [known[i] if i < len(known) else str(i) for i in range(count)]


def reported_curves(grading: Grading, found) -> list[dict]:
    """The training histories the notebook's `fit` calls returned for this model: reported by the
    submission, shown as such, never graded."""
    if found is None:
        return []
    return [{"fit": fit.index, "cell": fit.cell, "history": fit.history}
            for fit in grading.evidence.fits if fit.model_id == found.record.id and fit.history]


def _artifact_mismatch(grading: Grading, role: str):
    """`artifact_mismatch` when the uploaded file's layers are not those of the model the notebook
    builds for that role; None when they are, or when nothing was uploaded for it."""
    if role not in grading.artifacts:
        return None
    evaluation = grading.evaluation_of(role)
    found = grading.found.get(role)
    uploaded = artifact_table(evaluation.config if evaluation is not None else None)
    name = evaluation.file if evaluation is not None else grading.artifacts[role]
    if uploaded is None:
        return diagnose("artifact_mismatch", path=name, what="its layers could not be read")
    if found is None:
        return None
    difference = table_difference(found.table.rows, uploaded.rows)
    return diagnose("artifact_mismatch", path=name, what=difference) if difference else None


def table_difference(built, uploaded) -> str | None:
    """The first difference between two layer tables, in words; None when they are the same."""
    if len(built) != len(uploaded):
        return f"{len(uploaded)} layers where the notebook's model has {len(built)}"
    for ours, theirs in zip(built, uploaded):
        if (canonical_class(ours.class_name), ours.output_shape, ours.params) != \
                (canonical_class(theirs.class_name), theirs.output_shape, theirs.params):
            return (f"its layer `{theirs.name}` is a {theirs.class_name} with output {theirs.output_shape} and "
                    f"{theirs.params} parameters, where the notebook has a {ours.class_name} with output "
                    f"{ours.output_shape} and {ours.params}")
    return None


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


def _name(found, model) -> str:
    names = [name for name in found.record.names if name in model.names] or list(found.record.names)
    return names[0] if names else model.names[0] if model.names else "model"
