"""The checks that need a trained model: accuracy, reload, transfer, comparison, training set-up and
feature maps, and the registry that declares them (layer 1, hand-made evidence, no TensorFlow).

Configs come from tests/configs.py; weight fingerprints are made-up digests; the evaluation
process is stood in for by an `Evaluation` of numpy predictions against labels. Assertions name
codes, outcomes, scores and diagnosis fields, never wording.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest

import configs
from grader.checks.registry import CHECKS
from grader.evaluate import evaluate, prepare_grading, run_check
from grader.evidence import (CallbackRecord, CellRun, Evaluation, Evidence, Export, FitRecord, ModelEvaluation,
                             ModelRecord, WeightEvent)
from grader.exercises import SpecError, load_all, load_spec, parse_spec
from grader.reference import load_expected
from grader.results import CheckResult, Outcome, SubmissionResult, max_score, total_score

IMAGES = 1000
TRAINING_CHECKS = ("accuracy", "comparison", "transfer", "training_setup", "reload")
"""The checks whose points a submission can earn only by training its models."""
SOURCE = "the test images"


# --- Hand-made evidence ------------------------------------------------------------------------

def labels(classes: int = 10) -> np.ndarray:
    return np.arange(IMAGES) % classes


def predictions(accuracy: float, classes: int = 10) -> np.ndarray:
    """Predicted classes right on exactly `accuracy` of the images."""
    truth = labels(classes)
    wrong = round(IMAGES * (1 - accuracy))
    predicted = truth.copy()
    predicted[:wrong] = (truth[:wrong] + 1) % classes
    return predicted


def model_evaluation(model_id: int, accuracy: float | None = None, classes: int = 10, **fields) -> ModelEvaluation:
    predicted = predictions(accuracy, classes) if accuracy is not None else None
    return ModelEvaluation(f"model-{model_id}", f"model-{model_id}.keras", predicted=predicted, **fields)


def evaluation(*models: ModelEvaluation, coarse: int | None = None) -> Evaluation:
    label_sets = {"default": labels(), "fine": labels()}
    if coarse is not None:
        label_sets["coarse"] = labels(coarse)
    return Evaluation(SOURCE, label_sets, {model.key: model for model in models})


def digest(model_id: int, moment: str) -> str:
    return f"{model_id:02d}-{moment}".ljust(24, "0")


def training(model_id: int, fit_index: int = 0, epochs: int = 3, cell: int = 5, steps: int = 100,
             callbacks: tuple[CallbackRecord, ...] = ()) -> tuple[FitRecord, list[WeightEvent]]:
    """One `fit` of a model and the fingerprints the probe takes during it."""
    fit = FitRecord(cell=cell, model_id=model_id, epochs_requested=epochs, capped=False, index=fit_index,
                    callbacks=callbacks, epochs_run=epochs, steps_per_epoch=steps, batch_size=32)
    events = [WeightEvent(model_id, "epoch_end", digest(model_id, f"f{fit_index}e{epoch}"), cell=cell,
                          fit=fit_index, epoch=epoch) for epoch in range(1, epochs + 1)]
    events.append(WeightEvent(model_id, "fit_end", events[-1].digest, cell=cell, fit=fit_index))
    return fit, events


def initial(model_id: int, cell: int = 3) -> WeightEvent:
    return WeightEvent(model_id, "initial", digest(model_id, "initial"), cell=cell)


def export(model_id: int, weights: str) -> tuple[Export, WeightEvent]:
    return Export(model_id, f"model-{model_id}.keras"), WeightEvent(model_id, "export", weights)


def run(models, fits=(), weights=(), exports=(), saves=(), evaluated: Evaluation | None = None) -> Evidence:
    cells = tuple(CellRun(cell, "...", "ok") for cell in range(1, 9))
    return Evidence(kind="notebook", cells=cells, models=tuple(models), fits=tuple(fits), weights=tuple(weights),
                    exports=tuple(exports), saves=tuple(saves), evaluation=evaluated)


def trained_run(records, accuracies: dict[int, float] | None = None, trained: tuple[int, ...] | None = None,
                evaluations: dict[int, dict] | None = None) -> Evidence:
    """Every model in `trained` (default: all) created, fitted once and exported; the others only
    created and exported; the evaluation predicts with the accuracies given."""
    trained = tuple(record.id for record in records) if trained is None else trained
    fits, weights, exports = [], [], []
    for record in records:
        weights.append(initial(record.id))
        last = weights[-1].digest
        if record.id in trained:
            fit, events = training(record.id, fit_index=len(fits))
            fits.append(fit)
            weights += events
            last = events[-1].digest
        entry, event = export(record.id, last)
        exports.append(entry)
        weights.append(event)
    evaluated = evaluation(*(model_evaluation(model_id, value, **(evaluations or {}).get(model_id, {}))
                             for model_id, value in (accuracies or {}).items()))
    return run(records, fits, weights, exports, evaluated=evaluated)


@lru_cache(maxsize=None)
def spec_and_expected(exercise: str):
    spec = load_spec(exercise)
    return spec, load_expected(spec.reference)


def grade(exercise: str, evidence: Evidence, mode: str = "full", expected: dict | None = None,
          **artifact_fields) -> SubmissionResult:
    spec, recorded = spec_and_expected(exercise)
    return evaluate(spec, expected or recorded, evidence, "submission", mode, **artifact_fields)


def grade_one(exercise: str, evidence: Evidence, check_id: str) -> CheckResult:
    """One check alone, so that another check's failure cannot hide its answer."""
    spec, expected = spec_and_expected(exercise)
    (check,) = [check for check in spec.checks if check.id == check_id]
    return run_check(prepare_grading(spec, expected, evidence, "submission"), check)


def check_of(result: SubmissionResult, check_id: str, model: str | None = None) -> CheckResult:
    spec, _ = spec_and_expected(result.exercise)
    (found,) = [outcome for check, outcome in zip(spec.checks, result.checks)
                if check.id == check_id and (model is None or check.model == model)]
    return found


def codes(check: CheckResult) -> list[str]:
    return [diagnosis.code for diagnosis in check.diagnoses]


def only(check: CheckResult, code: str):
    (diagnosis,) = [d for d in check.diagnoses if d.code == code]
    return diagnosis


def cnn(model_id: int = 1, names=("model",), config=None, **fields) -> ModelRecord:
    return replace(configs.record(model_id, config or configs.fashion_cnn(), names=names, cell=3), **fields)


# --- Accuracy ----------------------------------------------------------------------------------

# fashion_cnn's recorded thresholds for cnn.test_accuracy: pass 0.889, floor 0.789; 6 points.
@pytest.mark.parametrize("accuracy, outcome, score", [
    (0.95, Outcome.PASSED, 6.0),
    (0.889, Outcome.PASSED, 6.0),
    (0.864, Outcome.FAILED, 4.5),
    (0.839, Outcome.FAILED, 3.0),
    (0.814, Outcome.FAILED, 1.5),
    (0.789, Outcome.FAILED, 0.0),
    (0.5, Outcome.FAILED, 0.0),
])
def test_accuracy_scores_full_at_the_pass_mark_and_linearly_down_to_the_floor(accuracy, outcome, score):
    check = check_of(grade("fashion_cnn", trained_run([cnn()], {1: accuracy})), "accuracy")
    assert (check.outcome, check.score, check.max_score) == (outcome, score, 6.0)
    assert (check.data["accuracy"], check.data["pass"], check.data["floor"]) == (accuracy, 0.889, 0.789)
    assert check.data["metric"] == "cnn.test_accuracy" and check.data["model_id"] == 1
    if outcome is Outcome.FAILED:
        diagnosis = only(check, "accuracy_below_threshold")
        assert (diagnosis.field("value"), diagnosis.field("pass_mark"), diagnosis.field("floor")) == \
            (f"{accuracy:.3f}", "0.889", "0.789")
        assert diagnosis.field("images") == SOURCE
    else:
        assert not check.diagnoses


def test_the_accuracy_check_keeps_what_the_report_draws_from_the_grader_s_own_predictions():
    """predictions(0.9) gets the first 100 images wrong, each as the next class: the confusion
    matrix says so, one misclassified image per true class is kept, and the curves are the
    history the notebook's fit returned (shown as reported, never graded)."""
    evidence = trained_run([cnn()], {1: 0.9})
    fits = tuple(replace(fit, history={"loss": [0.6, 0.4], "val_accuracy": [0.8, 0.85]}) for fit in evidence.fits)
    check = check_of(grade("fashion_cnn", replace(evidence, fits=fits)), "accuracy")
    matrix = np.array(check.data["confusion"]["matrix"])
    assert matrix.sum() == IMAGES and np.trace(matrix) == 900
    assert [matrix[label, (label + 1) % 10] for label in range(10)] == [10] * 10
    assert check.data["confusion"]["classes"][:2] == ["t-shirt/top", "trouser"]
    assert [(shown["index"], shown["label"], shown["predicted"]) for shown in check.data["misclassified"]] == \
        [(index, index, index + 1) for index in range(8)]
    assert check.data["curves"] == [{"fit": 0, "cell": 5, "history": {"loss": [0.6, 0.4], "val_accuracy": [0.8, 0.85]}}]
    assert set(check.data["reference"]) == {"min", "mean", "max"}


@pytest.mark.parametrize("model, accuracy, outcome, score", [
    ("dense", 0.85, Outcome.PASSED, 2.0),   # dense.test_accuracy: pass 0.846
    ("cnn", 0.85, Outcome.FAILED, 2.04),    # cnn.test_accuracy: pass 0.882, floor 0.782 -> 0.68 of 3
])
def test_each_model_is_graded_against_its_own_metric(model, accuracy, outcome, score):
    records = [configs.record(1, configs.dense_baseline(), names=("dense_model",)),
               configs.record(2, configs.coursera_cnn(), names=("cnn_model",))]
    result = grade("fashion_conv_intro", trained_run(records, {1: accuracy, 2: accuracy}))
    check = check_of(result, "accuracy", model)
    assert (check.outcome, check.score) == (outcome, score)


def test_the_classifier_is_graded_on_the_coarse_labels():
    records = transfer_records()
    result = grade("cnn_transfer", transfer_run(records, accuracies={4: 0.97, 6: 0.70, 8: 0.10}))
    check = check_of(result, "accuracy")
    assert (check.outcome, check.score, check.data["accuracy"]) == (Outcome.PASSED, 3.0, 0.97)
    assert check.data["metric"] == "classifier.coarse_test_accuracy"


def test_the_band_is_the_reference_range_from_the_expected_file():
    _, recorded = spec_and_expected("fashion_cnn")
    expected = copy.deepcopy(recorded)
    expected["metrics"]["cnn.test_accuracy"] = {"values": [0.9012, 0.9055, 0.9187], "min": 0.9012,
                                                "mean": 0.9085, "max": 0.9187}
    check = check_of(grade("fashion_cnn", trained_run([cnn()], {1: 0.8}), expected=expected), "accuracy")
    band = only(check, "accuracy_below_threshold").field("band")
    assert band == check.data["band"]
    assert "0.901" in band and "0.919" in band and "3" in band


def test_a_band_that_was_never_recorded_is_said_so_not_invented():
    _, recorded = spec_and_expected("fashion_cnn")
    expected = copy.deepcopy(recorded)
    del expected["metrics"]["cnn.test_accuracy"]
    check = check_of(grade("fashion_cnn", trained_run([cnn()], {1: 0.8}), expected=expected), "accuracy")
    assert check.outcome is Outcome.FAILED
    assert not any(character.isdigit() for character in only(check, "accuracy_below_threshold").field("band"))


def _weights_for(case: str) -> tuple[list[FitRecord], list[WeightEvent]]:
    fit, events = training(1)
    created = initial(1)
    return {
        "created and never fitted": ([], [created, WeightEvent(1, "export", created.digest)]),
        "fitted, then its first weights put back": ([fit], [created, *events,
                                                            WeightEvent(1, "export", created.digest)]),
        "no fingerprint and no fit": ([], []),
    }[case]


@pytest.mark.parametrize("case", ["created and never fitted", "fitted, then its first weights put back",
                                  "no fingerprint and no fit"])
def test_a_model_graded_with_the_weights_it_was_created_with_is_not_trained(case):
    fits, weights = _weights_for(case)
    evidence = run([cnn()], fits, weights, [Export(1, "model-1.keras")],
                   evaluated=evaluation(model_evaluation(1, 0.95)))
    check = check_of(grade("fashion_cnn", evidence), "accuracy")
    assert (check.outcome, check.score, codes(check)) == (Outcome.FAILED, 0.0, ["not_trained"])
    assert only(check, "not_trained").field("name") == "model"


def test_a_fitted_model_without_fingerprints_is_graded_on_its_predictions():
    fit, _ = training(1)
    evidence = run([cnn()], [fit], (), [Export(1, "model-1.keras")], evaluated=evaluation(model_evaluation(1, 0.9)))
    assert check_of(grade("fashion_cnn", evidence), "accuracy").outcome is Outcome.PASSED


def test_a_loaded_model_holding_trained_weights_is_not_not_trained():
    fit, events = training(1)
    best = events[0].digest  # the checkpoint of the first epoch
    weights = [initial(1), *events, WeightEvent(1, "save", best, path="best-cnn-model.keras"),
               WeightEvent(2, "load", best, path="best-cnn-model.keras"), WeightEvent(2, "export", best)]
    records = [cnn(1, names=("net",)), cnn(2, names=("model",), origin="loaded", source_path="best-cnn-model.keras")]
    evidence = run(records, [fit], weights, [Export(2, "model-2.keras")],
                   evaluated=evaluation(model_evaluation(2, 0.9)))
    check = check_of(grade("fashion_cnn", evidence), "accuracy")
    assert (check.outcome, check.score, check.data["model_id"]) == (Outcome.PASSED, 6.0, 2)


def test_a_submitted_saved_model_is_graded_although_its_training_was_never_seen():
    weights = [WeightEvent(1, "load", "f" * 24, path="model.keras"), WeightEvent(1, "export", "f" * 24)]
    evidence = replace(run([cnn(names=(), origin="loaded")], (), weights, [Export(1, "model-1.keras")],
                           evaluated=evaluation(model_evaluation(1, 0.9))), kind="saved_model", cells=())
    assert check_of(grade("fashion_cnn", evidence), "accuracy").outcome is Outcome.PASSED


def test_quick_mode_skips_accuracy():
    check = check_of(grade("fashion_cnn", trained_run([cnn()], {1: 0.95}), mode="quick"), "accuracy")
    assert (check.outcome, check.score, check.diagnoses) == (Outcome.SKIPPED, 0.0, ())


# --- cnn_transfer's evidence (seed 004) ---------------------------------------------------------

def transfer_records(transfer_base: int = 5, transfer_classes: int = 10, frozen: bool = True,
                     scratch: bool = True) -> list[ModelRecord]:
    """Seed 004's models: 1 conv, 2 strided, 3 extractor (saved), 4 classifier on 3 (coarse),
    5 the extractor loaded back, 6 the transfer model on `transfer_base`, and the baseline:
    7 a fresh extractor, 8 the same head on it trained from scratch."""
    def head(model_id: int, base: int, classes: int, trainable: bool, name: str) -> ModelRecord:
        config = configs.classifier(classes)
        config["layers"][1]["config"]["trainable"] = trainable
        record = configs.record(model_id, config, names=(name,), class_name="Functional", cell=9)
        return replace(record, submodels=(base,))

    records = [
        configs.record(1, configs.conv_only(), names=("conv_model",), cell=2),
        configs.record(2, configs.strided_cnn(4), names=("strided_model",), cell=4),
        configs.record(3, configs.extractor(), names=("shared_model",), class_name="Functional", cell=6),
        replace(configs.record(4, configs.classifier(4), names=("super_model",), class_name="Functional", cell=6),
                submodels=(3,)),
        replace(configs.record(5, configs.extractor(), names=("base",), class_name="Functional", cell=8),
                origin="loaded", source_path="shared_model.keras"),
        head(6, transfer_base, transfer_classes, not frozen, "sub_model"),
    ]
    if scratch:
        records += [configs.record(7, configs.extractor(), names=("fresh",), class_name="Functional", cell=10),
                    head(8, 7, 10, True, "scratch_model")]
    return records


def transfer_run(records: list[ModelRecord], accuracies: dict[int, float] | None = None,
                 scratch_epochs: int = 3, evaluations: dict[int, dict] | None = None) -> Evidence:
    """The classifier, the transfer model and the baseline fitted (the baseline for
    `scratch_epochs`); the extractor saved after the classifier's fit and loaded back."""
    present = {record.id for record in records}
    fits, weights = [], [initial(record.id) for record in records if record.origin != "loaded"]
    for model_id in (4, 6, 8):
        if model_id in present:
            fit, events = training(model_id, fit_index=len(fits), epochs=scratch_epochs if model_id == 8 else 3)
            fits.append(fit)
            weights += events
            if model_id == 4:
                extractor_weights = digest(3, "coarse-trained")
                weights += [WeightEvent(3, "save", extractor_weights, path="shared_model.keras"),
                            WeightEvent(5, "load", extractor_weights, path="shared_model.keras")]
    exports = [Export(record.id, f"model-{record.id}.keras") for record in records]
    models = [model_evaluation(model_id, value, classes=4 if model_id == 4 else 10,
                               **(evaluations or {}).get(model_id, {}))
              for model_id, value in (accuracies or {}).items()]
    saves = ({"cell": 7, "model_id": 3, "path": "shared_model.keras", "ok": True},)
    return run(records, fits, weights, exports, saves, evaluation(*models, coarse=4))


# --- What could not be measured: the same answers for every check that grades predictions ------

def timed_out_run(exercise: str) -> Evidence:
    evidence = measurable_run(exercise)
    return replace(evidence, evaluation=replace(evidence.evaluation, models={}, stopped="timeout"))


def measurable_run(exercise: str, **evaluation_fields) -> Evidence:
    """A trained submission whose every graded model has an evaluation with `evaluation_fields`."""
    if exercise == "cnn_transfer":
        fields = {model_id: evaluation_fields for model_id in (4, 6, 8)}
        accuracy = None if "problem" in evaluation_fields else 0.9
        return transfer_run(transfer_records(), {4: accuracy, 6: accuracy, 8: accuracy}, evaluations=fields)
    if exercise == "fashion_conv_intro":
        records = [configs.record(1, configs.dense_baseline(), names=("dense_model",)),
                   configs.record(2, configs.coursera_cnn(), names=("cnn_model",))]
    else:
        records = [cnn()]
    accuracy = None if "problem" in evaluation_fields else 0.9
    fields = {record.id: evaluation_fields for record in records}
    return trained_run(records, {record.id: accuracy for record in records}, evaluations=fields)


PREDICTION_CHECKS = [("fashion_cnn", "accuracy"), ("fashion_conv_intro", "comparison"),
                     ("cnn_transfer", "accuracy"), ("cnn_transfer", "transfer")]


@pytest.mark.parametrize("exercise, check_id", PREDICTION_CHECKS)
def test_an_evaluation_that_ran_out_of_time_is_the_instructors_error(exercise, check_id):
    check = check_of(grade(exercise, timed_out_run(exercise)), check_id)
    assert (check.outcome, check.score, codes(check)) == (Outcome.ERROR, 0.0, ["evaluation_timeout"])
    diagnosis = only(check, "evaluation_timeout")
    assert diagnosis.kind.audience == "instructor"
    assert diagnosis.field("seconds") == "300"


@pytest.mark.parametrize("exercise, check_id", PREDICTION_CHECKS)
@pytest.mark.parametrize("refused, code, fields", [
    ((("Lambda", "lambda"),), "lambda_layer", {"layer": "lambda"}),
    ((("Dense", "dense"), ("Lambda", "scale")), "lambda_layer", {"layer": "scale"}),
    ((("MyScaling", "my_scaling"),), "custom_object", {"layer": "my_scaling", "class_name": "MyScaling"}),
    ((), "unloadable_model", {"problem": "ValueError: bad file"}),
])
def test_a_file_the_grader_will_not_load_is_an_error_naming_why(exercise, check_id, refused, code, fields):
    evidence = measurable_run(exercise, problem="ValueError: bad file", stage="load", refused=refused)
    check = check_of(grade(exercise, evidence), check_id)
    assert (check.outcome, check.score, codes(check)) == (Outcome.ERROR, 0.0, [code])
    diagnosis = only(check, code)
    assert {name: diagnosis.layer if name == "layer" else diagnosis.field(name) for name in fields} == fields


@pytest.mark.parametrize("exercise, check_id", PREDICTION_CHECKS)
def test_a_model_the_evaluation_returned_nothing_for_is_not_evaluated(exercise, check_id):
    evidence = measurable_run(exercise)
    evidence = replace(evidence, evaluation=replace(evidence.evaluation, models={}))
    check = check_of(grade(exercise, evidence), check_id)
    assert (check.outcome, check.score, codes(check)) == (Outcome.ERROR, 0.0, ["not_evaluated"])
    assert only(check, "not_evaluated").kind.audience == "instructor"


@pytest.mark.parametrize("exercise, check_id", PREDICTION_CHECKS)
@pytest.mark.parametrize("flaw", ["predictions of another length", "no labels of the set it predicts"])
def test_predictions_that_cannot_be_scored_are_an_error_not_a_crash(exercise, check_id, flaw):
    """Fail closed: `Evaluation.accuracy` is None when it cannot measure; a check must turn that
    into an error result, not raise."""
    evidence = measurable_run(exercise)
    process = evidence.evaluation
    if flaw == "predictions of another length":
        process = replace(process, models={key: replace(model, predicted=model.predicted[:-1])
                                           for key, model in process.models.items()})
    else:
        process = replace(process, labels={})
    check = grade_one(exercise, replace(evidence, evaluation=process), check_id)
    assert (check.outcome, check.score) == (Outcome.ERROR, 0.0)


# --- Accuracy in --artifacts mode --------------------------------------------------------------

ARTIFACT = "artifact-best-cnn-model.keras"


def uploaded(config: dict | None, accuracy: float = 0.9) -> ModelEvaluation:
    return ModelEvaluation(ARTIFACT, "best-cnn-model.keras", predicted=predictions(accuracy),
                           config={"class_name": "Sequential", "config": config} if config is not None else None)


@pytest.mark.parametrize("file, outcome, score, code", [
    (uploaded(configs.fashion_cnn()), Outcome.PASSED, 6.0, None),
    (uploaded(configs.fashion_cnn(), accuracy=0.839), Outcome.FAILED, 3.0, "accuracy_below_threshold"),
    (uploaded(configs.coursera_cnn()), Outcome.FAILED, 0.0, "artifact_mismatch"),
    (uploaded(None), Outcome.FAILED, 0.0, "artifact_mismatch"),
])
def test_artifacts_mode_grades_the_uploaded_file_if_it_is_the_notebooks_model(file, outcome, score, code):
    evidence = trained_run([cnn()])
    evidence = replace(evidence, evaluation=evaluation(file))
    check = check_of(grade("fashion_cnn", evidence, mode="artifacts", artifacts={"cnn": ARTIFACT}), "accuracy")
    assert (check.outcome, check.score, codes(check)) == (outcome, score, [code] if code else [])
    if code == "artifact_mismatch":
        assert only(check, code).field("path") == "best-cnn-model.keras"
    if outcome is Outcome.PASSED:
        assert check.data["artifact"] == ARTIFACT


def test_artifacts_mode_grades_the_upload_even_if_the_capped_run_never_trained():
    created = initial(1)
    evidence = run([cnn()], (), [created, WeightEvent(1, "export", created.digest)], [Export(1, "model-1.keras")],
                   evaluated=evaluation(uploaded(configs.fashion_cnn())))
    check = check_of(grade("fashion_cnn", evidence, mode="artifacts", artifacts={"cnn": ARTIFACT}), "accuracy")
    assert check.outcome is Outcome.PASSED


def test_artifacts_mode_without_the_upload_is_a_missing_upload():
    result = grade("fashion_cnn", trained_run([cnn()], {1: 0.95}), mode="artifacts",
                   missing_artifacts={"cnn": "best-cnn-model.keras"})
    check = check_of(result, "accuracy")
    assert (check.outcome, check.score, codes(check)) == (Outcome.FAILED, 0.0, ["missing_upload"])
    assert only(check, "missing_upload").field("path") == "best-cnn-model.keras"


def test_a_role_not_found_is_not_graded():
    check = check_of(grade("fashion_cnn", trained_run([configs.record(1, configs.mnist_dense10())], {1: 0.95})),
                     "accuracy")
    assert (check.outcome, check.score) == (Outcome.ERROR, 0.0)


# --- Reload ------------------------------------------------------------------------------------

CHECKPOINT = "best-cnn-model.keras"


def reload_run(case: str) -> Evidence:
    """fashion_cnn's model 1 trained for 3 epochs; what was saved and loaded back depends on `case`."""
    fit, events = training(1, cell=5)
    best = events[1].digest
    records = [cnn(1), cnn(2, names=("best_model",), origin="loaded", source_path=CHECKPOINT, cell=6)]
    save = WeightEvent(1, "save", best, path=CHECKPOINT, cell=5)
    load = WeightEvent(2, "load", best, path=CHECKPOINT, cell=6)
    weights = [initial(1), *events, save, load]
    saves = [{"cell": 5, "model_id": 1, "path": CHECKPOINT, "ok": True}]
    if case == "saved before training":
        save = replace(save, digest=initial(1).digest)
        weights = [initial(1), save, *events, replace(load, digest=save.digest)]
    elif case == "another architecture":
        records[1] = replace(records[1], config=configs.coursera_cnn())
    elif case == "another model's weights":
        records.append(cnn(3, names=("other",), cell=4))
        other_fit, other_events = training(3, fit_index=1, cell=4)
        fit = [fit, other_fit]
        save = WeightEvent(3, "save", other_events[-1].digest, path=CHECKPOINT, cell=4)
        weights = [initial(1), initial(3), *events, *other_events, save, replace(load, digest=save.digest)]
        saves = [{"cell": 4, "model_id": 3, "path": CHECKPOINT, "ok": True}]
    elif case == "weights it never had":
        weights = [initial(1), *events, replace(save, digest="e" * 24), replace(load, digest="e" * 24)]
    elif case == "a file the notebook never wrote":
        weights = [initial(1), *events, replace(load, path="downloaded.keras")]
        saves = []
    elif case == "a checkpoint written by ModelCheckpoint":
        weights = [initial(1), events[0], WeightEvent(1, "save", events[0].digest, path="./best-cnn-model.keras"),
                   *events[1:], replace(load, digest=events[0].digest)]
    elif case == "saved and never loaded":
        records, weights = records[:1], [initial(1), *events, save]
    elif case == "never saved":
        records, weights, saves = records[:1], [initial(1), *events], []
    fits = fit if isinstance(fit, list) else [fit]
    return run(records, fits, weights, saves=saves)


@pytest.mark.parametrize("case", ["the best epoch", "a checkpoint written by ModelCheckpoint"])
def test_reloading_the_trained_weights_passes(case):
    check = check_of(grade("fashion_cnn", reload_run(case)), "reload")
    assert (check.outcome, check.score, check.diagnoses) == (Outcome.PASSED, 1.0, ())
    assert (check.data["saved_by"], check.data["loaded_as"]) == (1, 2)


@pytest.mark.parametrize("case", ["saved before training", "another architecture", "another model's weights",
                                  "weights it never had"])
def test_reloading_something_else_than_the_trained_model_is_a_reload_mismatch(case):
    check = check_of(grade("fashion_cnn", reload_run(case)), "reload")
    assert (check.outcome, check.score, codes(check)) == (Outcome.FAILED, 0.0, ["reload_mismatch"])
    diagnosis = only(check, "reload_mismatch")
    assert (diagnosis.field("path"), diagnosis.cell) == (CHECKPOINT, 6)


def test_a_model_built_twice_and_trained_only_the_second_time_reloads_cleanly():
    """The first `model` (the role's, by the lower id) was never trained: the checkpoint of the
    second, which was, is the trained model's file."""
    fit, events = training(2, cell=5)
    best = events[-1].digest
    records = [cnn(1), cnn(2), cnn(3, names=("best_model",), origin="loaded", source_path=CHECKPOINT, cell=6)]
    weights = [initial(1), initial(2), *events, WeightEvent(2, "save", best, path=CHECKPOINT, cell=5),
               WeightEvent(3, "load", best, path=CHECKPOINT, cell=6)]
    evidence = run(records, fits=[fit], weights=weights, saves=[{"cell": 5, "model_id": 2, "path": CHECKPOINT,
                                                                   "ok": True}])
    check = check_of(grade("fashion_cnn", evidence), "reload")
    assert (check.outcome, check.score, codes(check)) == (Outcome.PASSED, 1.0, [])


def test_reloading_a_model_that_never_trained_because_the_run_failed_is_that_failures_consequence():
    """Seed 004 under Keras 2: its data files are missing, so no `fit` ran, and the model it saves
    and loads back holds its initial weights. The missing data is the fault, not the reload."""
    evidence = reload_run("saved before training")
    failed = replace(evidence.cells[3], status="error")
    evidence = replace(evidence, fits=(), weights=tuple(w for w in evidence.weights if w.event not in
                                                        ("epoch_end", "fit_end")),
                       cells=(*evidence.cells[:3], failed, *evidence.cells[4:]))
    check = check_of(grade("fashion_cnn", evidence), "reload")
    assert (check.outcome, check.score, check.diagnoses) == (Outcome.ERROR, 0.0, ())
    assert "never trained" in check.summary and "cell 4 failed first" in check.summary


def test_the_reload_mismatches_are_told_apart():
    reasons = {case: only(check_of(grade("fashion_cnn", reload_run(case)), "reload"), "reload_mismatch").field("what")
               for case in ("saved before training", "another architecture", "another model's weights",
                            "weights it never had")}
    assert len(set(reasons.values())) == len(reasons)


@pytest.mark.parametrize("case, code, path", [
    ("a file the notebook never wrote", "missing_artifact", "downloaded.keras"),
    ("never saved", "missing_artifact", CHECKPOINT),
])
def test_a_file_never_written_is_a_missing_artifact(case, code, path):
    check = check_of(grade("fashion_cnn", reload_run(case)), "reload")
    assert (check.outcome, check.score, codes(check)) == (Outcome.FAILED, 0.0, [code])
    assert only(check, code).field("path") == path


def test_a_file_saved_and_never_loaded_back_is_not_reloaded():
    check = check_of(grade("fashion_cnn", reload_run("saved and never loaded")), "reload")
    assert (check.outcome, check.score, codes(check)) == (Outcome.FAILED, 0.0, ["not_reloaded"])
    assert only(check, "not_reloaded").field("file") == CHECKPOINT


def test_reload_is_checked_in_quick_mode_too():
    check = check_of(grade("fashion_cnn", reload_run("the best epoch"), mode="quick"), "reload")
    assert check.outcome is Outcome.PASSED


# --- Transfer ----------------------------------------------------------------------------------

RIGHT = {4: 0.97, 6: 0.70, 8: 0.10}


@pytest.mark.parametrize("records, accuracies, scratch_epochs, expected_codes, score", [
    (transfer_records(), RIGHT, 3, [], 6.0),
    (transfer_records(transfer_base=3), RIGHT, 3, ["base_not_reloaded"], 5.25),
    (transfer_records(transfer_classes=4), RIGHT, 3, ["wrong_output_classes"], 5.25),
    (transfer_records(frozen=False), RIGHT, 3, ["base_not_frozen"], 5.25),
    (transfer_records(), RIGHT, 5, ["unfair_baseline"], 5.25),
    (transfer_records(scratch=False), {4: 0.97, 6: 0.70}, 3, ["missing_baseline"], 2.25),
    # gain 0.525, halfway between the floor 0.475 and the pass mark 0.575: half the gain's share
    (transfer_records(), {4: 0.97, 6: 0.625, 8: 0.10}, 3, ["no_transfer_gain"], 4.5),
    (transfer_records(), {4: 0.97, 6: 0.30, 8: 0.10}, 3, ["no_transfer_gain"], 3.0),
    (transfer_records(frozen=False), {4: 0.97, 6: 0.625, 8: 0.10}, 3, ["base_not_frozen", "no_transfer_gain"], 3.75),
], ids=["right", "base_not_reloaded", "wrong_output_classes", "base_not_frozen", "unfair_baseline",
        "missing_baseline", "half_the_gain", "no_gain", "not_frozen_and_half_the_gain"])
def test_transfer_structure_is_an_eighth_each_and_the_gain_half(records, accuracies, scratch_epochs,
                                                                 expected_codes, score):
    check = check_of(grade("cnn_transfer", transfer_run(records, accuracies, scratch_epochs)), "transfer")
    assert (codes(check), check.score, check.max_score) == (expected_codes, score, 6.0)
    assert check.outcome is (Outcome.PASSED if not expected_codes else Outcome.FAILED)
    assert check.data["transfer_model"] == 6


def test_transfer_gain_is_measured_by_the_grader_on_the_fine_labels():
    check = check_of(grade("cnn_transfer", transfer_run(transfer_records(), {4: 0.97, 6: 0.625, 8: 0.10})),
                     "transfer")
    assert (check.data["transfer"], check.data["scratch"], check.data["gain"]) == (0.625, 0.1, 0.525)
    diagnosis = only(check, "no_transfer_gain")
    assert (diagnosis.field("gain"), diagnosis.field("pass_mark")) == ("0.525", "0.575")


def test_transfer_diagnoses_name_the_models():
    check = check_of(grade("cnn_transfer", transfer_run(transfer_records(frozen=False), RIGHT, 5)), "transfer")
    frozen, unfair = only(check, "base_not_frozen"), only(check, "unfair_baseline")
    assert (frozen.field("model"), frozen.field("base")) == ("sub_model", "base")
    assert (unfair.field("model"), unfair.field("baseline")) == ("sub_model", "scratch_model")


def test_no_trained_model_on_the_extractor_is_a_missing_transfer_model():
    records = [record for record in transfer_records() if record.id != 6]
    check = check_of(grade("cnn_transfer", transfer_run(records, {4: 0.97, 8: 0.1})), "transfer")
    assert (check.outcome, check.score, codes(check)) == (Outcome.FAILED, 0.0, ["missing_model"])


@pytest.mark.parametrize("records, scratch_epochs, outcome, expected_codes, score", [
    (transfer_records(), 3, Outcome.SKIPPED, [], 0.0),
    (transfer_records(frozen=False), 3, Outcome.FAILED, ["base_not_frozen"], 0.0),
    (transfer_records(transfer_base=3), 3, Outcome.FAILED, ["base_not_reloaded"], 0.0),
    (transfer_records(transfer_classes=4), 3, Outcome.FAILED, ["wrong_output_classes"], 0.0),
    (transfer_records(scratch=False), 3, Outcome.FAILED, ["missing_baseline"], 0.0),
    (transfer_records(), 5, Outcome.FAILED, ["unfair_baseline"], 0.0),
    (transfer_records(frozen=False, transfer_base=3), 3, Outcome.FAILED, ["base_not_reloaded", "base_not_frozen"],
     0.0),
], ids=["right", "base_not_frozen", "base_not_reloaded", "wrong_output_classes", "missing_baseline",
        "unfair_baseline", "two_problems"])
def test_quick_mode_checks_only_the_transfer_structure(records, scratch_epochs, outcome, expected_codes, score):
    """Quick mode reports the set-up's problems but awards no points, right or wrong: a wrong
    set-up must never outscore a right one, whose check is skipped."""
    evidence = replace(transfer_run(records, scratch_epochs=scratch_epochs), evaluation=None)
    check = check_of(grade("cnn_transfer", evidence, mode="quick"), "transfer")
    assert (check.outcome, codes(check), check.score) == (outcome, expected_codes, score)


# --- Comparison --------------------------------------------------------------------------------

def comparison_records(exercise: str) -> list[ModelRecord]:
    if exercise == "fashion_conv_intro":
        return [configs.record(1, configs.dense_baseline(), names=("dense_model",)),
                configs.record(2, configs.coursera_cnn(), names=("cnn_model",))]
    return [configs.record(1, configs.mnist_dense10(), names=("model_dense",)),
            configs.record(2, configs.mnist_mlp(), names=("mlp",)),
            configs.record(3, configs.mnist_cnn(), names=("cnn",))]


@pytest.mark.parametrize("exercise, accuracies, outcome, score", [
    ("fashion_conv_intro", {1: 0.86, 2: 0.90}, Outcome.PASSED, 2.0),
    ("fashion_conv_intro", {1: 0.90, 2: 0.86}, Outcome.FAILED, 0.0),
    ("fashion_conv_intro", {1: 0.88, 2: 0.88}, Outcome.FAILED, 0.0),
    ("mnist_models", {1: 0.91, 2: 0.95, 3: 0.98}, Outcome.PASSED, 2.0),
    ("mnist_models", {1: 0.91, 2: 0.98, 3: 0.95}, Outcome.FAILED, 0.0),
    ("mnist_models", {1: 0.96, 2: 0.95, 3: 0.98}, Outcome.FAILED, 0.0),
])
def test_comparison_passes_only_when_the_models_rank_as_taught(exercise, accuracies, outcome, score):
    check = check_of(grade(exercise, trained_run(comparison_records(exercise), accuracies)), "comparison")
    assert (check.outcome, check.score) == (outcome, score)
    assert codes(check) == ([] if outcome is Outcome.PASSED else ["accuracy_order"])
    spec, _ = spec_and_expected(exercise)
    order = next(item for item in spec.checks if item.id == "comparison").options["order"]
    assert check.data["accuracies"] == {role: accuracies[index + 1] for index, role in enumerate(order)}


def test_comparison_without_one_of_the_models_is_not_compared():
    records = comparison_records("fashion_conv_intro")[:1]
    check = check_of(grade("fashion_conv_intro", trained_run(records, {1: 0.86})), "comparison")
    assert (check.outcome, check.score) == (Outcome.ERROR, 0.0)


@pytest.mark.parametrize("exercise, accuracies", [
    ("fashion_conv_intro", {1: 0.09, 2: 0.11}),
    ("mnist_models", {1: 0.09, 2: 0.10, 3: 0.11}),
])
def test_never_trained_models_that_rank_by_chance_do_not_pass_the_comparison(exercise, accuracies):
    """Untrained models predict near chance, and their accuracies fall in the taught order about
    half the time (for two models): that is no evidence of the lesson."""
    check = check_of(grade(exercise, trained_run(comparison_records(exercise), accuracies, trained=())),
                     "comparison")
    assert check.outcome is not Outcome.PASSED and check.score == 0.0


def test_quick_mode_skips_the_comparison():
    check = check_of(grade("mnist_models", trained_run(comparison_records("mnist_models"), {1: 0.9, 2: 0.95, 3: 0.98}),
                           mode="quick"), "comparison")
    assert (check.outcome, check.score) == (Outcome.SKIPPED, 0.0)


# --- Training set-up ---------------------------------------------------------------------------

EARLY_STOPPING = CallbackRecord("EarlyStopping", {"monitor": "val_loss", "patience": 2, "restore_best_weights": True})
CHECKPOINTING = CallbackRecord("ModelCheckpoint", {"monitor": "val_loss", "filepath": CHECKPOINT,
                                                   "save_best_only": True})


def setup_run(*callbacks: CallbackRecord, fitted: bool = True) -> Evidence:
    fit, events = training(1, callbacks=tuple(callbacks))
    return run([cnn()], [fit] if fitted else [], [initial(1), *events] if fitted else [initial(1)])


def with_settings(callback: CallbackRecord, **settings) -> CallbackRecord:
    return replace(callback, settings={**callback.settings, **settings})


def test_the_callbacks_the_exercise_asks_for_pass():
    check = check_of(grade("fashion_cnn", setup_run(EARLY_STOPPING, CHECKPOINTING)), "training_setup")
    assert (check.outcome, check.score, check.diagnoses) == (Outcome.PASSED, 1.0, ())


@pytest.mark.parametrize("callbacks, setting, actual, expected", [
    ((with_settings(EARLY_STOPPING, patience=5), CHECKPOINTING), "patience", 5, 2),
    ((with_settings(EARLY_STOPPING, restore_best_weights=False), CHECKPOINTING), "restore_best_weights", False, True),
    ((EARLY_STOPPING, with_settings(CHECKPOINTING, save_best_only=False)), "save_best_only", False, True),
])
def test_a_callback_with_another_setting_is_a_setting_mismatch(callbacks, setting, actual, expected):
    check = check_of(grade("fashion_cnn", setup_run(*callbacks)), "training_setup")
    assert (check.outcome, codes(check)) == (Outcome.FAILED, ["setting_mismatch"])
    diagnosis = only(check, "setting_mismatch")
    assert (diagnosis.field("setting"), diagnosis.field("actual"), diagnosis.field("expected")) == \
        (setting, actual, expected)
    assert diagnosis.cell == 5
    assert check.score == 0.8  # one of five: two callbacks and their three settings


@pytest.mark.parametrize("callbacks, missing", [
    ((EARLY_STOPPING,), ["ModelCheckpoint"]),
    ((CHECKPOINTING,), ["EarlyStopping"]),
    ((), ["EarlyStopping", "ModelCheckpoint"]),
    ((CallbackRecord("TensorBoard", {}),), ["EarlyStopping", "ModelCheckpoint"]),
])
def test_a_callback_not_passed_to_fit_is_a_missing_callback(callbacks, missing):
    check = check_of(grade("fashion_cnn", setup_run(*callbacks)), "training_setup")
    assert check.outcome is Outcome.FAILED and 0.0 <= check.score < 1.0
    assert codes(check) == ["missing_callback"] * len(missing)
    assert [diagnosis.field("class_name") for diagnosis in check.diagnoses] == missing


@pytest.mark.parametrize("present, missing", [(CHECKPOINTING, EARLY_STOPPING), (EARLY_STOPPING, CHECKPOINTING)])
def test_leaving_a_callback_out_costs_at_least_as_much_as_getting_all_its_settings_wrong(present, missing):
    wrong = with_settings(missing, **{key: "wrong" for key in ("patience", "restore_best_weights", "save_best_only")
                                      if key in missing.settings})
    without = check_of(grade("fashion_cnn", setup_run(present)), "training_setup")
    mistaken = check_of(grade("fashion_cnn", setup_run(present, wrong)), "training_setup")
    assert without.score <= mistaken.score


def test_a_model_never_fitted_has_no_training_set_up():
    check = check_of(grade("fashion_cnn", setup_run(fitted=False)), "training_setup")
    assert (check.outcome, check.score, codes(check)) == (Outcome.FAILED, 0.0, ["not_trained"])


# --- Feature maps ------------------------------------------------------------------------------

def first_convolutions() -> list[dict]:
    return configs.fashion_cnn_layers()[:3]


def feature_map_model(model_id: int, layers: list[dict], outputs: list[str], name: str,
                      input_shape: tuple = (28, 28, 1)) -> ModelRecord:
    config = configs.functional(copy.deepcopy(layers), input_shape, name=f"functional_{model_id}")
    config["output_layers"] = [[output, 0, 0] for output in outputs] if len(outputs) > 1 else [outputs[0], 0, 0]
    return configs.record(model_id, config, names=(name,), class_name="Functional", cell=7)


@pytest.mark.parametrize("extra, outcome, score, missing", [
    ([feature_map_model(2, first_convolutions()[:1], ["conv2d"], "first"),
      feature_map_model(3, first_convolutions(), ["conv2d_1"], "second")], Outcome.PASSED, 1.0, None),
    ([feature_map_model(2, first_convolutions(), ["conv2d", "conv2d_1"], "activations")], Outcome.PASSED, 1.0, None),
    ([feature_map_model(2, first_convolutions()[:1], ["conv2d"], "first")], Outcome.FAILED, 0.5, "(1, 14, 14, 64)"),
    ([feature_map_model(3, first_convolutions(), ["conv2d_1"], "second")], Outcome.FAILED, 0.5, "(1, 28, 28, 32)"),
    ([feature_map_model(2, first_convolutions()[:1], ["conv2d"], "elsewhere", input_shape=(32, 32, 1))],
     Outcome.FAILED, 0.0, "(1, 28, 28, 32), (1, 14, 14, 64)"),
    ([], Outcome.FAILED, 0.0, "(1, 28, 28, 32), (1, 14, 14, 64)"),
], ids=["two_models", "one_model_two_outputs", "only_the_first", "only_the_second", "another_input", "none"])
def test_feature_map_models_return_the_first_convolutions(extra, outcome, score, missing):
    check = check_of(grade("fashion_cnn", run([cnn(), *extra])), "feature_maps")
    assert (check.outcome, check.score) == (outcome, score)
    if missing is None:
        assert not check.diagnoses
    else:
        assert codes(check) == ["feature_map_model_missing"]
        diagnosis = only(check, "feature_map_model_missing")
        assert (diagnosis.field("shapes"), diagnosis.field("name")) == (missing, "model")


def activation_model(outputs: int) -> ModelRecord:
    layers = configs.coursera_cnn()["layers"][1:]
    names = [entry["config"]["name"] for entry in layers][:outputs]
    return feature_map_model(3, layers, names, "activation_model")


@pytest.mark.parametrize("outputs, outcome, score", [(7, Outcome.PASSED, 1.0), (4, Outcome.FAILED, round(4 / 7, 4)),
                                                     (1, Outcome.FAILED, round(1 / 7, 4))])
def test_every_layer_means_one_output_per_layer_of_the_cnn(outputs, outcome, score):
    records = [configs.record(1, configs.dense_baseline(), names=("dense_model",)),
               configs.record(2, configs.coursera_cnn(), names=("cnn_model",)), activation_model(outputs)]
    result = grade("fashion_conv_intro", run(records))
    check = check_of(result, "feature_maps")
    assert (check.outcome, check.score) == (outcome, score)
    assert len(check.data["wanted"]) == 7
    assert codes(check) == ([] if outcome is Outcome.PASSED else ["feature_map_model_missing"])
    assert check_of(result, "architecture", "cnn").outcome is Outcome.PASSED  # still the Sequential CNN


# --- Registry and specs ------------------------------------------------------------------------

def minimal_spec(**check) -> dict:
    return {"id": "toy", "title": "Toy", "reference": "fashion_conv_intro", "dataset": "fashion_mnist",
            "models": [{"key": "dense", "metric": "dense.test_accuracy"},
                       {"key": "cnn", "metric": "cnn.test_accuracy"}],
            "checks": [{"id": "execution", "points": 1}, {"points": 1, **check}]}


@pytest.mark.parametrize("check", [
    {"id": "accuracy", "model": "cnn"},
    {"id": "comparison", "order": ["dense", "cnn"]},
    {"id": "transfer", "extractor": "dense", "classifier": "cnn", "fine_classes": 10},
    {"id": "feature_maps", "model": "cnn", "layers": "every_layer"},
])
def test_a_consistent_spec_is_accepted(check):
    spec = parse_spec(minimal_spec(**check))
    assert spec.checks[-1].id == check["id"]
    assert {key: value for key, value in check.items() if key not in ("id", "model")} == spec.checks[-1].options


@pytest.mark.parametrize("check", [
    {"id": "no_such_check"},
    {"id": "Accuracy", "model": "cnn"},
    {"id": "accuracy", "model": "mlp"},
    {"id": "accuracy"},
    {"id": "reload", "model": "nope", "file": "x.keras"},
    {"id": "training_setup", "model": "classifier"},
    {"id": "feature_maps", "model": "nope"},
    {"id": "comparison", "order": ["dense", "mlp"]},
    {"id": "comparison", "order": ["nope"]},
    {"id": "transfer", "extractor": "nope", "classifier": "cnn", "fine_classes": 10},
    {"id": "transfer", "extractor": "dense", "classifier": "nope", "fine_classes": 10},
], ids=["unknown_id", "misspelt_id", "unknown_model", "no_model", "reload_unknown", "setup_unknown",
        "feature_maps_unknown", "order_unknown", "order_only_unknown", "extractor_unknown", "classifier_unknown"])
def test_a_spec_naming_an_unknown_check_or_model_is_refused_when_parsed(check):
    with pytest.raises(SpecError):
        parse_spec(minimal_spec(**check))


@pytest.mark.parametrize("check, models", [
    ({"id": "comparison"}, None),
    ({"id": "transfer", "extractor": "dense", "classifier": "cnn"}, None),
    ({"id": "accuracy", "model": "cnn"}, [{"key": "dense"}, {"key": "cnn"}]),
], ids=["comparison_without_order", "transfer_without_fine_classes", "accuracy_of_a_model_without_metric"])
def test_a_check_without_what_it_needs_to_grade_is_refused_when_parsed(check, models):
    """A bad spec is the instructor's error, found when it is loaded, not a grader error on every
    submission of the batch."""
    data = minimal_spec(**check)
    if models is not None:
        data["models"] = models
    with pytest.raises(SpecError):
        parse_spec(data)


def test_every_exercise_spec_loads_with_known_checks():
    specs = load_all()
    assert [spec.id for spec in specs] == ["cnn_transfer", "fashion_cnn", "fashion_conv_intro", "fashion_pooling",
                                           "mnist_models"]
    for spec in specs:
        assert all(check.id in CHECKS for check in spec.checks)
        keys = {model.key for model in spec.models}
        for check in spec.checks:
            kind = CHECKS[check.id]
            assert set(kind.models_in(check)) <= keys and (not kind.names_model or check.model in keys)


@pytest.mark.parametrize("exercise", ["cnn_transfer", "fashion_cnn", "fashion_conv_intro", "fashion_pooling",
                                      "mnist_models"])
def test_every_graded_metric_has_a_threshold_in_the_expected_file(exercise):
    spec, expected = spec_and_expected(exercise)
    for check in spec.checks:
        if check.id == "accuracy":
            assert spec.model(check.model).metric in expected["thresholds"]
        if check.id == "transfer":
            assert check.options.get("metric", "transfer.gain") in expected["thresholds"]


def test_the_registry_says_which_checks_need_training_and_predictions():
    assert {name for name, kind in CHECKS.items() if kind.training} <= set(TRAINING_CHECKS)
    assert {name for name, kind in CHECKS.items() if kind.predictions} == {"accuracy", "transfer", "comparison"}


# --- A submission that never trains ------------------------------------------------------------

def training_points(exercise: str) -> tuple[float, float]:
    spec, _ = spec_and_expected(exercise)
    return sum(check.points for check in spec.checks if check.id in TRAINING_CHECKS), \
        sum(check.points for check in spec.checks)


@pytest.mark.parametrize("exercise", ["cnn_transfer", "fashion_cnn", "fashion_conv_intro", "fashion_pooling",
                                      "mnist_models"])
def test_at_least_forty_percent_of_every_exercise_needs_training(exercise):
    needed, total = training_points(exercise)
    assert total - needed <= 0.6 * total


def untrained_run(exercise: str) -> Evidence:
    """The right models, saved, reloaded and exported, and feature-map models; no `fit` anywhere.
    The evaluation's predictions of the untrained models rank in the taught order, and score high."""
    if exercise == "fashion_cnn":
        records = [cnn(1), cnn(2, names=("best_model",), origin="loaded", source_path=CHECKPOINT),
                   feature_map_model(3, first_convolutions(), ["conv2d", "conv2d_1"], "activations")]
    elif exercise == "fashion_pooling":
        records = [configs.record(1, configs.avg_pool_cnn(), names=("model_avg",)),
                   configs.record(2, configs.fashion_cnn(), names=("model_max",))]
    elif exercise == "fashion_conv_intro":
        records = [*comparison_records(exercise), activation_model(7)]
    elif exercise == "mnist_models":
        records = comparison_records(exercise)
    else:
        records = transfer_records()
    weights, exports = [], []
    for record in records:
        if record.origin == "loaded":
            continue
        created = initial(record.id)
        weights += [created, WeightEvent(record.id, "export", created.digest)]
        exports.append(Export(record.id, f"model-{record.id}.keras"))
    if exercise == "fashion_cnn":
        weights += [WeightEvent(1, "save", initial(1).digest, path=CHECKPOINT),
                    WeightEvent(2, "load", initial(1).digest, path=CHECKPOINT)]
    if exercise == "cnn_transfer":
        weights += [WeightEvent(3, "save", initial(3).digest, path="shared_model.keras"),
                    WeightEvent(5, "load", initial(3).digest, path="shared_model.keras")]
    saves = [{"cell": 5, "model_id": event.model_id, "path": event.path, "ok": True}
             for event in weights if event.event == "save"]
    rising = {record.id: 0.5 + 0.1 * index for index, record in enumerate(records)}
    classifier = 4 if exercise == "cnn_transfer" else None  # predicts the 4 coarse classes
    evaluated = evaluation(*(model_evaluation(model_id, value, classes=4 if model_id == classifier else 10)
                             for model_id, value in rising.items()), coarse=4)
    return run(records, (), weights, exports, saves, evaluated)


@pytest.mark.parametrize("exercise", ["cnn_transfer", "fashion_cnn", "fashion_conv_intro", "fashion_pooling",
                                      "mnist_models"])
def test_a_submission_that_never_trains_reaches_at_most_sixty_percent(exercise):
    result = grade(exercise, untrained_run(exercise))
    spec, _ = spec_and_expected(exercise)
    assert check_of(result, "execution").outcome is Outcome.PASSED
    assert all(outcome.outcome is Outcome.PASSED for check, outcome in zip(spec.checks, result.checks)
               if check.id == "architecture")
    earned = {check.id: 0.0 for check in spec.checks}
    for check, outcome in zip(spec.checks, result.checks):
        earned[check.id] += outcome.score
    assert total_score(result) <= 0.6 * max_score(result)
    assert {check_id: score for check_id, score in earned.items() if check_id in TRAINING_CHECKS} == \
        {check_id: 0.0 for check_id in earned if check_id in TRAINING_CHECKS}
