"""Transfer: a fine-class model built on the extractor reloaded from its file, frozen, against a
from-scratch model of the same architecture trained on the same budget; the gain is the
difference of the two accuracies, both measured by the grader.

The structure (a-d) needs no real training and is checked in every mode; the gain (e) needs the
evaluation process. Half the points are the structure's (an eighth each), half the gain's.
"""

from __future__ import annotations

from ..diagnoses import Diagnosis, diagnose
from ..evidence import Evidence, FitRecord, ModelRecord
from ..exercises import CheckSpec
from ..layers import MODEL_CLASSES
from ..results import CheckResult, Outcome
from .accuracy import credit
from .architecture import with_output_units
from .context import Grading, consequence, first_failure, not_measured, result
from .models import MINIMUM_SIMILARITY, similarity

STRUCTURE_SHARE = 0.5


def check_transfer(grading: Grading, check: CheckSpec) -> CheckResult:
    fine_classes = int(check.options["fine_classes"])
    fine = fine_models(grading, check, fine_classes)
    on_extractor = [record for record in fine if _base(grading, check, record) is not None]
    if not on_extractor and (failure := first_failure(grading)):
        return consequence(check, "no model built on the extractor was trained", failure)
    if not on_extractor:
        diagnosis = diagnose("missing_model", model="the transfer model (the reloaded extractor with a new head)",
                             where="", names="`load_sub_model`")
        return result(check, Outcome.FAILED, 0.0, "No model built on the extractor was trained.", [diagnosis])
    transfer = min(on_extractor, key=lambda record: (_head_units(grading, record.id) != fine_classes,
                                                     _base(grading, check, record).origin != "loaded", -record.id))
    scratch = [record for record in fine if record not in on_extractor]
    diagnoses = _structure(grading, check, transfer, scratch, fine_classes)
    structure = (4 - len({d.code for d in diagnoses})) / 4
    data = {"transfer_model": transfer.id, "scratch_model": scratch[-1].id if scratch else None}
    if grading.mode == "quick":
        # No points in quick mode, right or wrong: a wrong set-up must never outscore a right one.
        if diagnoses:
            return result(check, Outcome.FAILED, 0.0,
                          "The transfer set-up has problems; the gain is measured in full grading.", diagnoses, data)
        return result(check, Outcome.SKIPPED, 0.0, "The transfer set-up is right; the gain is measured in "
                      "full grading (run without --quick).", data=data)
    gain_part, gain_diagnoses, problem = _gain(grading, check, transfer, scratch[-1] if scratch else None)
    if problem is not None:
        return problem
    diagnoses += gain_diagnoses
    fraction = structure * STRUCTURE_SHARE + gain_part * (1 - STRUCTURE_SHARE)
    data.update(_gain_data(grading, transfer, scratch))
    if not diagnoses:
        return result(check, Outcome.PASSED, 1.0, f"Transfer gains {data['gain']:.3f} over training from scratch.",
                      data=data)
    return result(check, Outcome.FAILED, fraction, f"{len(diagnoses)} problem(s) with the transfer.", diagnoses, data)


def fine_models(grading: Grading, check: CheckSpec, fine_classes: int) -> list[ModelRecord]:
    """Trained models shaped like the classifier (extractor, Flatten, Dense) that are not it."""
    classifier = grading.found.get(check.options.get("classifier", "classifier"))
    rows = grading.expected_rows[check.options.get("classifier", "classifier")]
    wanted = with_output_units(rows, fine_classes)
    fitted = {fit.model_id for fit in grading.evidence.fits}
    return [record for record in grading.evidence.models
            if record.id in fitted and record.id in grading.tables
            and (classifier is None or record.id != classifier.record.id)
            and similarity(wanted, grading.tables[record.id].rows) >= MINIMUM_SIMILARITY]


def _base(grading: Grading, check: CheckSpec, record: ModelRecord) -> ModelRecord | None:
    """The model used inside `record` that holds the coarse-trained extractor: one loaded from a
    file, or the extractor (or the classifier's extractor) still in memory."""
    evidence = grading.evidence
    trained = set()
    for role in (check.options.get("extractor", "extractor"), check.options.get("classifier", "classifier")):
        found = grading.found.get(role)
        if found is not None:
            trained |= {found.record.id, *found.record.submodels}
    for model_id in record.submodels:
        inner = evidence.record(model_id)
        if inner is not None and (inner.origin == "loaded" or model_id in trained):
            return inner
    return None


def _structure(grading: Grading, check: CheckSpec, transfer: ModelRecord, scratch: list[ModelRecord],
               fine_classes: int) -> list[Diagnosis]:
    base = _base(grading, check, transfer)
    name = _name(transfer)
    diagnoses = []
    if base.origin != "loaded":
        diagnoses.append(diagnose("base_not_reloaded", model=name, base=_name(base), cell=transfer.cell))
    units = _head_units(grading, transfer.id)
    if units != fine_classes:
        diagnoses.append(diagnose("wrong_output_classes", actual=units if units is not None else "an unknown number of",
                                  expected=fine_classes, cell=transfer.cell))
    if check.options.get("freeze", True) and not _frozen(transfer, base):
        diagnoses.append(diagnose("base_not_frozen", model=name, base=_name(base), cell=transfer.cell))
    if not scratch:
        diagnoses.append(diagnose("missing_baseline", model=name))
    else:
        ours, theirs = _last_fit(grading.evidence, transfer.id), _last_fit(grading.evidence, scratch[-1].id)
        if (ours.epochs_run, ours.steps) != (theirs.epochs_run, theirs.steps):
            diagnoses.append(diagnose("unfair_baseline", model=name, baseline=_name(scratch[-1]),
                                      ours=_budget(ours), theirs=_budget(theirs), cell=theirs.cell))
    return diagnoses


def _gain(grading: Grading, check: CheckSpec, transfer: ModelRecord, scratch: ModelRecord | None):
    """(credit of the gain, its diagnoses, or a not-measured result)."""
    evaluation = grading.evidence.evaluation
    for record in (transfer, scratch):
        if record is None:
            continue
        problem = not_measured(grading, check, evaluation.of_model(record.id) if evaluation else None,
                               f"`{_name(record)}`", "fine")
        if problem is not None:
            return 0.0, [], problem
    if scratch is None:
        return 0.0, [], None
    threshold = grading.expected["thresholds"][check.options.get("metric", "transfer.gain")]
    data = _gain_data(grading, transfer, [scratch])
    part = credit(data["gain"], threshold)
    if part >= 1.0:
        return 1.0, [], None
    return part, [diagnose("no_transfer_gain", gain=f"{data['gain']:.3f}", transfer=f"{data['transfer']:.3f}",
                           scratch=f"{data['scratch']:.3f}", pass_mark=f"{threshold['pass']:.3f}")], None


def _gain_data(grading: Grading, transfer: ModelRecord, scratch: list[ModelRecord]) -> dict:
    evaluation = grading.evidence.evaluation
    if evaluation is None or not scratch:
        return {}
    ours = evaluation.accuracy(f"model-{transfer.id}", "fine")
    theirs = evaluation.accuracy(f"model-{scratch[-1].id}", "fine")
    if ours is None or theirs is None:
        return {}
    return {"transfer": round(ours, 4), "scratch": round(theirs, 4), "gain": round(ours - theirs, 4)}


def _frozen(transfer: ModelRecord, base: ModelRecord) -> bool:
    """The base is frozen inside the transfer model: the nested model, or every layer of it,
    is `trainable=False` in the transfer model's config."""
    for layer in (transfer.config or {}).get("layers", []):
        config = layer.get("config", {})
        if layer.get("class_name") not in MODEL_CLASSES:
            continue
        if config.get("trainable") is False:
            return True
        inner = [item.get("config", {}) for item in config.get("layers", []) if item.get("class_name") != "InputLayer"]
        if inner and all(item.get("trainable") is False for item in inner):
            return True
    return False


def _head_units(grading: Grading, model_id: int) -> int | None:
    table = grading.tables.get(model_id)
    shape = table.output_shape if table is not None else None
    return shape[-1] if shape else None


def _last_fit(evidence: Evidence, model_id: int) -> FitRecord:
    return [fit for fit in evidence.fits if fit.model_id == model_id][-1]


def _budget(fit: FitRecord) -> str:
    steps = f"{fit.steps:,} steps" if fit.steps is not None else "an unknown number of steps"
    return f"{fit.epochs_run if fit.epochs_run is not None else '?'} epoch(s), {steps}"


def _name(record: ModelRecord | None) -> str:
    return record.names[0] if record is not None and record.names else "a model without a name"
