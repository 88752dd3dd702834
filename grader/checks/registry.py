"""Every check the grader knows, as data: id -> the function and what it needs.

Adding a check is one module and one entry here; an exercise spec naming an id that is not here
is refused when it is loaded. `evaluate` reads `training` to skip a check in --quick mode and
`predictions` to know whether the evaluation process must run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .accuracy import check_accuracy
from .architecture import check_architecture
from .comparison import check_comparison
from .context import Grading
from .execution import check_execution
from .feature_maps import check_feature_maps
from .models import unreadable_answers, unreadable_diagnosis
from .pooling import check_pooling
from .reload import check_reload
from .training_setup import check_training_setup
from .transfer import check_transfer


NOTEBOOK = ("notebook",)


@dataclass(frozen=True)
class CheckKind:
    run: Callable
    """(Grading, CheckSpec) -> CheckResult."""
    names_model: bool = False
    """The spec's check names one of the exercise's models (`model = "cnn"`)."""
    model_options: tuple[str, ...] = ()
    """Options of the check that name models too (`order`, `extractor`)."""
    predictions: bool = False
    """It grades predictions of the evaluation process (full and --artifacts modes)."""
    training: bool = False
    """It needs real training: in --quick mode it is skipped, not failed."""
    required_options: tuple[str, ...] = ()
    """Options the spec must give the check (`order`, `fine_classes`)."""
    needs_metric: bool = False
    """The model it names must have a `metric`: the key of its thresholds in the expected file."""
    kinds: tuple[str, ...] = ("notebook", "module", "saved_model")
    """The submissions it applies to; for the others it is skipped (a module's `build_model()`
    returns an unfitted model; a saved model has no training, saving or reloading to look at)."""

    def models_in(self, check) -> list[str]:
        names = []
        for option in self.model_options:
            value = check.options.get(option)
            names += list(value) if isinstance(value, list) else [value] if value else []
        return names


def _architecture(grading: Grading, check) -> object:
    found = grading.found[check.model]
    cell = found.record.cell if found is not None else None
    source = next((run.source for run in grading.evidence.cells if cell is not None and run.cell == cell), None)
    spec = grading.model_spec(check.model)
    unreadable = tuple(unreadable_diagnosis(record, grading.unreadable[record.id])
                       for record in unreadable_answers(spec, grading.evidence, grading.unreadable, found))
    return check_architecture(check, spec, grading.expected["models"][check.model],
                              found, grading.missing_note, grading.build_failure, source, unreadable)


CHECKS: dict[str, CheckKind] = {
    "execution": CheckKind(lambda grading, check: check_execution(check, grading.evidence, grading.tables,
                                                                  grading.submission)),
    "architecture": CheckKind(_architecture, names_model=True),
    "pooling": CheckKind(lambda grading, check: check_pooling(check, grading.evidence, grading.tables,
                                                              grading.unreadable)),
    "accuracy": CheckKind(check_accuracy, names_model=True, predictions=True, training=True, needs_metric=True,
                          kinds=("notebook", "saved_model")),
    "reload": CheckKind(check_reload, names_model=True, kinds=NOTEBOOK),
    "transfer": CheckKind(check_transfer, model_options=("extractor", "classifier"), predictions=True,
                          required_options=("extractor", "classifier", "fine_classes"), kinds=NOTEBOOK),
    "comparison": CheckKind(check_comparison, model_options=("order",), predictions=True, training=True,
                            required_options=("order",), kinds=NOTEBOOK),
    "training_setup": CheckKind(check_training_setup, names_model=True, kinds=NOTEBOOK),
    "feature_maps": CheckKind(check_feature_maps, names_model=True, kinds=NOTEBOOK),
}
