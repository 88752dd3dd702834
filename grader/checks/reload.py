"""Reload: the file the notebook loads back holds the model it trained.

The loaded model must have the trained model's layer table, and weights that model had at the
end of an epoch or of its `fit` (a `ModelCheckpoint(save_best_only=True)` file holds the best
epoch's, `restore_best_weights` puts the same ones back in memory: weights are compared, not file
names). Needs no real training, so --quick checks it too.
"""

from __future__ import annotations

from ..diagnoses import diagnose
from ..evidence import ModelRecord, WeightEvent
from ..exercises import CheckSpec
from ..results import CheckResult, Outcome
from .alignment import same_family
from .context import Grading, consequence, first_failure, result, unfound
from .models import MINIMUM_SIMILARITY, similarity
from .weights import initial_digests, last_save_before, same_file, trained_digests


def check_reload(grading: Grading, check: CheckSpec) -> CheckResult:
    missing = unfound(grading, check)
    if missing is not None:
        return missing
    evidence = grading.evidence
    model = grading.model_spec(check.model)
    loads = [event for event in evidence.weights if event.event == "load"]
    loads = [event for event in loads if _is_role(grading, check.model, event.model_id)] or loads
    wanted = check.options.get("file")
    if not loads and (failure := first_failure(grading)):
        return consequence(check, f"no saved copy of {model.title} was loaded back", failure)
    if not loads:
        if wanted and not any(same_file(save.get("path"), wanted) and save.get("ok") for save in evidence.saves):
            return result(check, Outcome.FAILED, 0.0, f"{wanted} was never written.",
                          [diagnose("missing_artifact", path=wanted, model=model.title)])
        return result(check, Outcome.FAILED, 0.0, f"No saved model of {model.title} is loaded back.",
                      [diagnose("not_reloaded", model=model.title, file=wanted or "the file you saved it to")])
    load = loads[-1]
    loaded = evidence.record(load.model_id)
    save = last_save_before(evidence, load)
    if save is None:
        return result(check, Outcome.FAILED, 0.0, f"{load.path} was loaded but never written by the notebook.",
                      [diagnose("missing_artifact", path=load.path, model=model.title, cell=loaded.cell)])
    problem = _mismatch(grading, check.model, load, save)
    if problem is not None and not evidence.fits and (failure := first_failure(grading)):
        # Nothing was trained (the fit failed with the run, as when the data is missing): the
        # file holds the only weights the model ever had, and the failure is the fault.
        return consequence(check, f"{model.title} was never trained, so {load.path} cannot hold its trained "
                                  "weights", failure)
    data = {"path": load.path, "saved_by": save.model_id, "loaded_as": load.model_id, "cell": loaded.cell}
    if problem is None:
        return result(check, Outcome.PASSED, 1.0, f"{load.path} holds {model.title} as it was trained.", data=data)
    return result(check, Outcome.FAILED, 0.0, f"{load.path} does not hold {model.title} as it was trained.",
                  [diagnose("reload_mismatch", path=load.path, what=problem, cell=loaded.cell)], data=data)


def _mismatch(grading: Grading, role: str, load: WeightEvent, save: WeightEvent) -> str | None:
    """What differs between the model the notebook trained and the one it loaded back, or None."""
    evidence = grading.evidence
    found = grading.found.get(role)
    fitted = {fit.model_id for fit in evidence.fits}
    # The model the notebook trained: the role's model when it was trained, else the file's writer
    # (a notebook may build the model twice and train only the second).
    trained = (found.record.id if found is not None and found.record.id != load.model_id
               and found.record.id in fitted else save.model_id)
    if not _same_table(grading, trained, load.model_id):
        return "another architecture: its layers are not those of the model you trained"
    if save.model_id != trained:
        return (f"another model's weights: the file was written by `{_name(evidence.record(save.model_id))}`, "
                f"not by the model you trained")
    if load.digest in trained_digests(evidence, save.model_id):
        return None
    if load.digest in initial_digests(evidence):
        return "the weights from before training: it was saved before `fit` ran"
    return "weights the trained model never had at the end of an epoch"


def _same_table(grading: Grading, first: int, second: int) -> bool:
    one, two = grading.tables.get(first), grading.tables.get(second)
    if one is None or two is None:
        return False
    if len(one.rows) != len(two.rows):
        return False
    return all(same_family(a, b) and a.output_shape == b.output_shape and a.params == b.params
               for a, b in zip(one.rows, two.rows))


def _is_role(grading: Grading, role: str, model_id: int) -> bool:
    """A loaded model whose table is close to the role's expected one."""
    table = grading.tables.get(model_id)
    return table is not None and similarity(grading.expected_rows[role], table.rows) >= MINIMUM_SIMILARITY


def _name(record: ModelRecord | None) -> str:
    return record.names[0] if record is not None and record.names else "another model"
