"""Training set-up: the callbacks the exercise asks for are passed to the model's `fit`, with its
settings (patience, restore_best_weights, save_best_only), as the probe recorded them."""

from __future__ import annotations

from ..diagnoses import diagnose
from ..exercises import CheckSpec
from ..results import CheckResult, Outcome
from .context import Grading, consequence, first_failure, result, unfound


def check_training_setup(grading: Grading, check: CheckSpec) -> CheckResult:
    missing = unfound(grading, check)
    if missing is not None:
        return missing
    model = grading.model_spec(check.model)
    found = grading.found.get(check.model)
    fits = [fit for fit in grading.evidence.fits if found is not None and fit.model_id == found.record.id]
    fits = fits or list(grading.evidence.fits)
    if not fits and (failure := first_failure(grading)):
        return consequence(check, f"{model.title} was never trained", failure)
    if not fits:
        return result(check, Outcome.FAILED, 0.0, f"{model.title[:1].upper()}{model.title[1:]} is never trained.",
                      [diagnose("not_trained", model=model.title, name=model.names[0] if model.names else "model")])
    wanted = check.options.get("callbacks", [])
    passed = {callback.class_name: callback for fit in fits for callback in fit.callbacks}
    cell = fits[-1].cell
    diagnoses, lost = [], 0
    for expected in wanted:
        class_name = expected["class"]
        settings = {key: value for key, value in expected.items() if key != "class"}
        callback = passed.get(class_name)
        if callback is None:
            arguments = ", ".join(f"{key}={value!r}" for key, value in settings.items())
            diagnoses.append(diagnose("missing_callback", class_name=class_name, cell=cell,
                                      constructor=f"keras.callbacks.{class_name}({arguments})"))
            lost += 1 + len(settings)
            continue
        for key, value in settings.items():
            actual = callback.settings.get(key)
            if actual != value:
                lost += 1
                diagnoses.append(diagnose("setting_mismatch", subject=f"The `{class_name}` callback", setting=key,
                                          actual=actual, expected=value, target=f"the `{class_name}`", cell=cell))
    units = len(wanted) + sum(len(item) - 1 for item in wanted)
    fraction = 1 - lost / max(units, 1)
    if not diagnoses:
        return result(check, Outcome.PASSED, 1.0, "The callbacks the exercise asks for are there, with its settings.")
    return result(check, Outcome.FAILED, fraction, f"{len(diagnoses)} problem(s) with the training set-up.", diagnoses)
