"""Comparison: the models rank as the exercise teaches (the CNN beats the dense baseline; Dense10
< MLP < CNN), each accuracy measured by the grader. All or nothing."""

from __future__ import annotations

from ..diagnoses import diagnose
from ..exercises import CheckSpec
from ..results import CheckResult, Outcome
from .context import Grading, not_measured, result
from .weights import never_trained


def check_comparison(grading: Grading, check: CheckSpec) -> CheckResult:
    order = list(check.options["order"])
    accuracies = {}
    for role in order:
        model = grading.model_spec(role)
        found = grading.found.get(role)
        if found is None and role not in grading.artifacts:
            return result(check, Outcome.ERROR, 0.0, f"Not compared: {model.title} was not found.")
        if role not in grading.artifacts and never_trained(grading.evidence, found.record.id):
            # Untrained models rank by chance; its accuracy check already says `not_trained`.
            return result(check, Outcome.FAILED, 0.0, f"Not compared: {model.title} was never trained.")
        problem = not_measured(grading, check, grading.evaluation_of(role), model.title, model.labels)
        if problem is not None:
            return problem
        accuracies[role] = grading.accuracy_of(role)
    ranking = " < ".join(f"{grading.model_spec(role).title} ({accuracies[role]:.3f})" for role in order)
    data = {"accuracies": {role: round(value, 4) for role, value in accuracies.items()}}
    if all(accuracies[low] < accuracies[high] for low, high in zip(order, order[1:])):
        return result(check, Outcome.PASSED, 1.0, f"The models rank as expected: {ranking}.", data=data)
    measured = ", ".join(f"{grading.model_spec(role).title} {accuracies[role]:.3f}" for role in order)
    expected = " < ".join(grading.model_spec(role).title for role in order)
    return result(check, Outcome.FAILED, 0.0, "The models do not rank as expected.",
                  [diagnose("accuracy_order", expected=expected, measured=measured)], data=data)
