"""Architecture: the submitted layer table against the recorded reference.

Layers are aligned by class (see alignment.py), then each expected layer is compared on output
shape, parameter count and the settings that matter. Only root causes are reported: the first
layer whose output shape diverges (later layers inherit the difference), the first layer whose
parameter count diverges without a setting of its own to blame, every setting that differs
without changing shape or count, and every missing, extra or swapped layer.

Partial credit: each expected layer is one unit; a layer of the right class counts 1 when its
shape, parameters and settings all match and 1/2 otherwise; a missing or swapped layer counts 0;
each extra layer takes one unit away. The score is the units left over the expected count,
never below zero, times the check's points.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..diagnoses import Diagnosis, diagnose
from ..exercises import CheckSpec, ModelSpec
from ..layers import LayerRow, LayerTable
from ..results import CheckResult, Outcome
from .alignment import align_layers, canonical_class, same_family
from .models import FoundModel

SHAPE_SETTINGS = ("filters", "units", "kernel_size", "strides", "padding", "pool_size", "dilation_rate",
                  "target_shape")


def check_architecture(check: CheckSpec, model: ModelSpec, expected: dict, found: FoundModel | None,
                       evidence_note: str = "", build_failure: str | None = None,
                       cell_source: str | None = None, unreadable: tuple[Diagnosis, ...] = ()) -> CheckResult:
    """`build_failure` says where building a model failed (a cell, an entry point): when no model
    is found and one is given, that failure is the root cause, already diagnosed by the
    execution check, and the architecture cannot be judged; `missing_model` would only repeat it.
    `cell_source` is the source of the cell that built the model: layer diagnoses point into it.
    `unreadable` holds `model_unreadable` for each model the grader could not read that may be
    the answer: with no model found, they are why it cannot be judged."""
    expected_rows = with_output_units(tuple(LayerRow.from_json(row) for row in expected["layers"]),
                                      model.output_classes)
    if found is None and unreadable:
        return CheckResult(check.id, check.name, Outcome.ERROR, 0.0, check.points, check.visibility,
                           f"Not judged: the grader cannot read the config of {len(unreadable)} model(s) "
                           f"that may be {model.title}.", tuple(unreadable))
    if found is None and build_failure:
        return CheckResult(check.id, check.name, Outcome.ERROR, 0.0, check.points, check.visibility,
                           f"Not judged: {model.title} was not built, because {build_failure} failed "
                           "(see the diagnosis under the execution check).")
    if found is None:
        names = " or ".join(f"`{name}`" for name in model.names[:3]) or "the name the exercise gives"
        diagnosis = diagnose("missing_model", model=model.title, where=evidence_note, names=names)
        return CheckResult(check.id, check.name, Outcome.ERROR, 0.0, check.points, check.visibility,
                           f"No model matching {model.title} was found.", (diagnosis,))
    diagnoses, units = compare_tables(expected_rows, expected.get("input_shape"), found.table, model)
    diagnoses = [located(diagnosis, found.record.cell, cell_source, found.table.rows) for diagnosis in diagnoses]
    if found.table.unknown_layers:
        diagnoses.append(diagnose("not_recomputed", layers=", ".join(found.table.unknown_layers)))
    fraction = max(units, 0.0) / max(len(expected_rows), 1)
    student_diagnoses = [d for d in diagnoses if d.kind.audience == "student"]
    outcome = Outcome.PASSED if not student_diagnoses else Outcome.FAILED
    score = round(check.points * (1.0 if outcome is Outcome.PASSED else min(fraction, 1.0)), 4)
    title = model.title[:1].upper() + model.title[1:]
    summary = (f"{title} (`{_display_name(found, model)}`) matches the expected layers."
               if outcome is Outcome.PASSED else
               f"{title} (`{_display_name(found, model)}`): {len(student_diagnoses)} "
               f"problem(s); {fraction * len(expected_rows):.1f} of {len(expected_rows)} layers right.")
    return CheckResult(check.id, check.name, outcome, score, check.points, check.visibility, summary,
                       tuple(diagnoses), data={"model_id": found.record.id, "cell": found.record.cell,
                                               "rows": _table_view(expected_rows, found.table.rows)})


def located(diagnosis: Diagnosis, cell: int | None, source: str | None, rows: tuple[LayerRow, ...]) -> Diagnosis:
    """A layer's diagnosis pointed at the cell that built the model and, where it can be told for
    sure, at the line creating the layer."""
    if cell is None or diagnosis.cell is not None:
        return diagnosis
    line = layer_line(source, rows, diagnosis.layer) if source and diagnosis.layer else None
    return replace(diagnosis, cell=cell, line=line)


def layer_line(source: str, rows: tuple[LayerRow, ...], layer: str) -> int | None:
    """The line creating `layer`: the k-th `ClassName(` in the cell for the k-th layer of that
    class. None unless the cell writes that class exactly as often as the model has such layers
    (a loop, a helper function or an alias makes the counts differ)."""
    target = next((row for row in rows if row.name == layer), None)
    if target is None:
        return None
    same = [row.name for row in rows if row.class_name == target.class_name]
    pattern = re.compile(rf"\b{re.escape(target.class_name)}\(")
    lines = [number for number, text in enumerate(source.splitlines(), 1)
             for _ in pattern.findall(text.split("#", 1)[0])]
    return lines[same.index(layer)] if len(lines) == len(same) else None


def compare_tables(expected: tuple[LayerRow, ...], expected_input, actual: LayerTable,
                   model: ModelSpec) -> tuple[list[Diagnosis], float]:
    diagnoses: list[Diagnosis] = []
    units = 0.0
    shape_reported = param_reported = False
    previous_expected: LayerRow | None = None
    previous_actual: LayerRow | None = None
    first_shape_layer: str | None = None
    pairs = align_layers(expected, actual.rows)
    for index, (want, got) in enumerate(pairs):
        if got is None:
            diagnoses.append(diagnose("layer_missing", layer=None, class_name=want.class_name,
                                      position=_position(previous_actual), suggestion=constructor(want)))
        elif want is None:
            diagnoses.append(diagnose("layer_extra", layer=got.name, class_name=got.class_name))
            units -= 1
        elif not same_family(want, got):
            diagnoses.append(diagnose("layer_type_mismatch", layer=got.name, actual=got.class_name,
                                      expected=want.class_name, suggestion=constructor(want)))
        else:
            is_last = index == len(pairs) - 1
            found, shape_reported, param_reported = _compare_layer(
                want, got, previous_expected, previous_actual, is_last, model,
                shape_reported, param_reported, first_shape_layer, expected_input, actual.input_shape)
            if first_shape_layer is None and want.output_shape != got.output_shape:
                first_shape_layer = got.name
            diagnoses += found
            units += 1.0 if not found and _equal_layer(want, got) else 0.5
        previous_expected = want or previous_expected
        previous_actual = got or previous_actual
    return diagnoses, units


def _compare_layer(want: LayerRow, got: LayerRow, previous_expected, previous_actual, is_last: bool,
                   model: ModelSpec, shape_reported: bool, param_reported: bool, first_shape_layer,
                   expected_input, actual_input) -> tuple[list[Diagnosis], bool, bool]:
    found: list[Diagnosis] = []
    differing = {key: (got.settings.get(key), value) for key, value in want.settings.items()
                 if not _same_setting(key, got.settings.get(key), value)}
    input_matches = (previous_expected.output_shape == previous_actual.output_shape
                     if previous_expected is not None and previous_actual is not None
                     else _same_input(expected_input, actual_input))
    if is_last and model.output_classes and got.output_shape and got.output_shape[-1] != model.output_classes:
        found.append(diagnose("wrong_output_classes", layer=got.name, actual=got.output_shape[-1],
                              expected=model.output_classes))
        differing.pop("units", None)
        return found + _setting_diagnoses(got, differing, exclude=SHAPE_SETTINGS), True, True
    # A shape the calculator could not recompute is `not_recomputed`, never a mismatch.
    shape_differs = got.output_shape is not None and want.output_shape != got.output_shape
    if shape_differs and input_matches and not shape_reported:
        found.append(diagnose("shape_mismatch", layer=got.name, actual=_shape(got.output_shape),
                              expected=_shape(want.output_shape), fix=_shape_fix(want, got, differing)))
        shape_reported = True
    elif shape_differs and not input_matches and not shape_reported and previous_actual is None:
        found.append(diagnose("shape_mismatch", layer=got.name, actual=_shape(got.output_shape),
                              expected=_shape(want.output_shape),
                              fix=f"The model's input is {_shape(actual_input)}, expected "
                                  f"{_shape(expected_input)}: start with `keras.Input(shape={_shape(tuple(expected_input[1:]) if expected_input else None)})`."))
        shape_reported = True
    params_differ = want.params is not None and got.params is not None and want.params != got.params
    own = {k: v for k, v in differing.items() if k in ("units", "filters", "kernel_size", "use_bias")}
    explained_by_shape = shape_differs and input_matches
    counted: dict = {}  # settings that param_mismatch already blames for the count
    if params_differ and not explained_by_shape and (own or not param_reported):
        found.append(diagnose("param_mismatch", layer=got.name, actual=got.params, expected=want.params,
                              fix=_param_fix(want, got, own, first_shape_layer)))
        param_reported = True
        counted = own
    found += _setting_diagnoses(got, differing,
                                exclude=SHAPE_SETTINGS if shape_differs else ("units", "filters", *counted))
    return found, shape_reported, param_reported


def _setting_diagnoses(got: LayerRow, differing: dict, exclude) -> list[Diagnosis]:
    return [diagnose("setting_mismatch", layer=got.name, subject=f"Layer `{got.name}`", target="that layer",
                     setting=key, actual=actual, expected=wanted)
            for key, (actual, wanted) in differing.items() if key not in exclude and key != "use_bias"]


def _shape_fix(want: LayerRow, got: LayerRow, differing: dict) -> str:
    if "padding" in differing and differing["padding"] == ("valid", "same"):
        kernel = "x".join(str(k) for k in want.settings.get("kernel_size", want.settings.get("pool_size", [3, 3])))
        return (f"A {kernel} window with padding='valid' trims the border of the map; use padding='same' "
                "to keep its size.")
    if "padding" in differing and differing["padding"] == ("same", "valid"):
        return "padding='same' keeps the map's size; the exercise uses padding='valid' here, which trims the border."
    for key in ("pool_size", "strides", "kernel_size", "filters", "units", "dilation_rate", "padding"):
        if key in differing:
            actual, wanted = differing[key]
            return f"Set {key}={_setting(wanted)} (you have {key}={_setting(actual)}) on this {want.class_name} layer."
    return (f"This is the first layer whose output differs; compare its settings and its input with the "
            f"exercise ({want.class_name} {constructor(want)}).")


def _param_fix(want: LayerRow, got: LayerRow, own: dict, first_shape_layer: str | None) -> str:
    if own:
        key, (actual, wanted) = next(iter(own.items()))
        return f"Set {key}={_setting(wanted)} (you have {_setting(actual)}) on this {want.class_name} layer."
    if first_shape_layer:
        return (f"Its input differs because of the output shape of `{first_shape_layer}` above; fix that layer "
                "and this count follows.")
    return f"Its input has a different size from the exercise's; check the layers before `{got.name}`."


def with_output_units(rows: tuple[LayerRow, ...], units: int | None) -> tuple[LayerRow, ...]:
    """The expected rows with the last Dense resized to the data's number of classes."""
    if not units or not rows or rows[-1].class_name != "Dense" or rows[-1].output_shape[-1] == units:
        return rows
    last = rows[-1]
    inputs = (last.params - last.output_shape[-1]) // last.output_shape[-1]
    params = inputs * units + units
    resized = LayerRow(last.name, last.class_name, (*last.output_shape[:-1], units), params, params,
                       {**last.settings, "units": units})
    return (*rows[:-1], resized)


def constructor(row: LayerRow) -> str:
    """How to write the expected layer: `MaxPooling2D(pool_size=(2, 2))`, `Dense(100, activation='relu')`."""
    settings = dict(row.settings)
    if settings.get("use_bias", True) is True:
        settings.pop("use_bias", None)
    if settings.get("padding") == "valid":
        settings.pop("padding")
    if settings.get("dilation_rate") in ([1, 1], [1]):
        settings.pop("dilation_rate")
    if canonical_class(row.class_name) in ("MaxPooling2D", "AveragePooling2D") and settings.get("strides") == settings.get("pool_size"):
        settings.pop("strides", None)
    if settings.get("strides") in ([1, 1], [1]):
        settings.pop("strides")
    first = [k for k in ("filters", "units", "rate") if k in settings]
    positional = [_setting(settings.pop(k)) for k in first]
    named = [f"{k}={_setting(v)}" for k, v in settings.items() if not (k == "activation" and v == "linear")]
    return f"{row.class_name}({', '.join(positional + named)})"


def _setting(value) -> str:
    if isinstance(value, list):
        return repr(tuple(value))
    return repr(value)


def _same_setting(key: str, actual, expected) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            return abs(float(actual) - float(expected)) < 1e-6
        except (TypeError, ValueError):
            return False
    return actual == expected


def _equal_layer(want: LayerRow, got: LayerRow) -> bool:
    return want.output_shape == got.output_shape and want.params == got.params


def _same_input(expected_input, actual_input) -> bool:
    if expected_input is None or actual_input is None:
        return True
    return tuple(expected_input) == tuple(actual_input)


def _position(previous: LayerRow | None) -> str:
    return f"after `{previous.name}`" if previous is not None else "at the start of the model"


def _shape(shape) -> str:
    return "unknown" if shape is None else str(tuple(shape))


def _display_name(found: FoundModel, model: ModelSpec) -> str:
    """The variable the student will recognise: one the exercise names, else the first that held it."""
    names = found.record.names
    preferred = [name for name in names if name in model.names or name == model.entry_point]
    return (preferred or list(names) or [found.table.name])[0]


def _table_view(expected: tuple[LayerRow, ...], actual: tuple[LayerRow, ...]) -> list[dict]:
    """Expected and submitted rows side by side, for reports."""
    view = []
    for want, got in align_layers(expected, actual):
        view.append({"expected": want.to_json() if want else None, "actual": got.to_json() if got else None})
    return view
