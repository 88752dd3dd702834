"""Feature maps: a model built to show activations takes the CNN's input and returns the outputs
of the CNN's layers the exercise names (`layers = [0, 2]`: the first two convolutions; or every
layer's), recomputed from its config."""

from __future__ import annotations

from ..diagnoses import diagnose
from ..exercises import CheckSpec
from ..layers import output_layers
from ..results import CheckResult, Outcome
from .alignment import align_layers
from .context import Grading, consequence, first_failure, result, unfound


def check_feature_maps(grading: Grading, check: CheckSpec) -> CheckResult:
    missing = unfound(grading, check)
    if missing is not None:
        return missing
    model = grading.model_spec(check.model)
    found = grading.found.get(check.model)
    rows = found.table.rows if found is not None else grading.expected_rows[check.model]
    input_shape = found.table.input_shape if found is not None else tuple(grading.expected["models"][check.model]["input_shape"])
    positions = check.options.get("layers", "every_layer")
    chosen = rows if positions == "every_layer" else _own_layers(grading.expected_rows[check.model], found, positions)
    wanted = [tuple(row.output_shape[1:]) for row in chosen if row.output_shape is not None]
    returned, models = set(), []
    for record in grading.evidence.models:
        table = grading.tables.get(record.id)
        if table is None or (found is not None and record.id == found.record.id) or record.config is None:
            continue
        if table.input_shape is None or tuple(table.input_shape[1:]) != tuple(input_shape[1:]):
            continue
        shapes = output_shapes(record.config, table)
        if shapes and any(shape in wanted for shape in shapes):
            returned |= set(shapes)
            models.append(record.names[0] if record.names else f"model {record.id}")
    missing = [shape for shape in wanted if shape not in returned]
    data = {"models": models, "wanted": [list(shape) for shape in wanted]}
    if not missing:
        return result(check, Outcome.PASSED, 1.0, f"Feature maps of {model.title} returned by "
                      f"`{'`, `'.join(models)}`.", data=data)
    fraction = 1 - len(missing) / max(len(wanted), 1)
    if failure := first_failure(grading):
        return consequence(check, "no model returns every feature map asked for", failure, fraction)
    shapes = ", ".join("(1, " + ", ".join(map(str, shape)) + ")" for shape in missing)
    return result(check, Outcome.FAILED, fraction,
                  f"No model returns the feature maps {shapes}.",
                  [diagnose("feature_map_model_missing", model=model.title, shapes=shapes,
                            name=found.record.names[0] if found is not None and found.record.names else "model")],
                  data=data)


def output_shapes(config: dict, table) -> list[tuple]:
    """The output shapes (without the batch axis) of a functional model, from its config."""
    outputs = output_layers(config)
    if outputs is None:
        return [tuple(table.output_shape[1:])] if table.output_shape is not None else []
    by_name = {row.name: row for row in table.rows}
    shapes = []
    for name in outputs:
        row = by_name.get(name)
        if row is not None and row.output_shape is not None:
            shapes.append(tuple(row.output_shape[1:]))
    return shapes


def _own_layers(expected, found, positions) -> list:
    """The student's layers that stand where the expected ones at `positions` stand (aligned by
    class, so an extra BatchNormalization does not shift them): their maps are the ones to show.
    A wrong convolution is the architecture check's to report, not this one's."""
    if found is None:
        return [expected[i] for i in positions if i < len(expected)]
    aligned = {id(want): got for want, got in align_layers(expected, found.table.rows) if want is not None}
    return [aligned.get(id(expected[i])) or expected[i] for i in positions if i < len(expected)]
