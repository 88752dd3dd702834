"""Recomputed tables for every model in the evidence, and which one answers which expected model.

Models are found by the names the exercise gives and, whatever their names, by matching their
architecture against the expected ones: seed 003 builds three networks all called `model`,
and a functional-style `cnn = keras.Model(inputs, outputs)` has no Sequential to look for.

Every check that grades a model depends on finding it, so similarity is not the last word: a
model too far from the reference to be matched is still the answer to a role when it is the
only model left that could be one (see `is_candidate`). A student whose CNN has a block too
many is then told what is wrong with it, not that it is missing.

A model whose config the grader cannot read is never left out silently: it is `unreadable`, and
a role that only it may answer (it holds the role's name, the readable model chosen does not) is
left unanswered, so that every check of that role fails closed and says why (`model_unreadable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..diagnoses import Diagnosis, diagnose
from ..evidence import Evidence, ModelRecord
from ..exercises import ModelSpec
from ..layers import (CONV_CLASSES, GLOBAL_POOL_CLASSES, MODEL_CLASSES, POOL_CLASSES, SHAPE_PRESERVING,
                      LayerRow, LayerTable, UnreadableConfig, output_layers, table_from_config)
from .alignment import align_layers, same_family

NAME_BONUS = 0.05
MINIMUM_SIMILARITY = 0.45
"""A model with every layer class right but every shape wrong scores 0.5: still an attempt
at the expected model. Another exercise's model that merely shares a block pattern (the
extractor against the strided CNN: 0.375) is not. Below it, a model answers a role only as
the role's one candidate."""
SPATIAL_CLASSES = {*CONV_CLASSES, *POOL_CLASSES, *GLOBAL_POOL_CLASSES}
PROBLEM_LIMIT = 300
NOTHING_UNREADABLE = MappingProxyType({})


@dataclass(frozen=True)
class FoundModel:
    """The submitted model chosen to answer one expected model."""

    record: ModelRecord
    table: LayerTable
    similarity: float
    """0..1: how much of the layer sequence matches the expected one, by layer class."""
    only_candidate: bool = False
    """True when it was chosen as the one model left that could answer the role, its similarity
    being under MINIMUM_SIMILARITY."""


def read_tables(evidence: Evidence) -> tuple[dict[int, LayerTable], dict[int, str]]:
    """Each model's table recomputed from its config, and what could not be read of the others:
    (model id -> table, model id -> the problem). A model the probe saw without a config and
    without an error (nothing was asked of it) is in neither."""
    tables, unreadable = {}, {}
    for record in evidence.models:
        if record.config is None:
            if record.config_error:
                unreadable[record.id] = _shorten(f"Keras could not give its config: {record.config_error}")
            continue
        try:
            tables[record.id] = table_from_config(record.class_name, record.config)
        except UnreadableConfig as error:
            unreadable[record.id] = _shorten(str(error))
    return tables, unreadable


def tables_for(evidence: Evidence) -> dict[int, LayerTable]:
    """Each readable model's table recomputed from its config (see `read_tables` for the others)."""
    return read_tables(evidence)[0]


def unreadable_diagnosis(record: ModelRecord, problem: str) -> Diagnosis:
    """`model_unreadable` for one model: which one (its variables, its cell) and what could not be read."""
    names = [name for name in record.names if isinstance(name, str)][:3]
    model = (" / ".join(f"`{name}`" for name in names) if names else "a model without a variable name")
    return diagnose("model_unreadable", cell=record.cell, model=model, problem=problem,
                    detail=record.config_error or problem)


def holds_name(spec: ModelSpec, record: ModelRecord) -> bool:
    """Whether the model was held by a variable (or returned by an entry point) the role names."""
    return bool(set(record.names) & set(spec.names)) or (spec.entry_point in record.names)


def unreadable_answers(spec: ModelSpec, evidence: Evidence, unreadable: Mapping[int, str],
                       found: "FoundModel | None") -> list[ModelRecord]:
    """The unreadable models that may be the student's answer to a role: those holding a name
    the role gives, unless the model found holds one too; with no model found, every unreadable
    model when none holds such a name."""
    if found is not None and holds_name(spec, found.record):
        return []
    records = [record for record in evidence.models if record.id in unreadable]
    named = [record for record in records if holds_name(spec, record)]
    return named or (records if found is None else [])


def similarity(expected: tuple[LayerRow, ...], actual: tuple[LayerRow, ...]) -> float:
    if not expected and not actual:
        return 1.0
    pairs = align_layers(expected, actual)
    matched = sum(1 for e, a in pairs if e is not None and a is not None and same_family(e, a))
    exact = sum(1 for e, a in pairs if e is not None and a is not None and same_family(e, a)
                and e.output_shape == a.output_shape and e.params == a.params)
    return (matched + exact) / (2 * max(len(expected), len(actual)))


def find_models(models: tuple[ModelSpec, ...], expected_rows: dict[str, tuple[LayerRow, ...]],
                evidence: Evidence, tables: dict[int, LayerTable],
                unreadable: Mapping[int, str] = NOTHING_UNREADABLE) -> dict[str, FoundModel | None]:
    """Assign each expected model the best-matching submitted model, each used at most once; then
    give each role still without one the only unused model that is a candidate for it; then take
    back each role that an `unreadable` model may answer instead (see `unreadable_answers`).

    `tables` holds the models that may answer a role (the caller leaves out those whose map
    collapses); a model of the evidence whose map collapses still counts as a rival, since it
    may be the one the student meant."""
    records = {record.id: record for record in evidence.models}
    if evidence.kind == "module":
        # A module answers a role with what its entry point returns: a model the function built
        # and did not return (the probe sees every model built) is no answer.
        models_of = {spec.key: {model_id: table for model_id, table in tables.items()
                                if not spec.entry_point or spec.entry_point in records[model_id].names}
                     for spec in models}
    else:
        models_of = {spec.key: tables for spec in models}
    found = _by_similarity(models, expected_rows, records, models_of)
    collapsed = [table for table in {**tables_for(evidence), **tables}.values() if table.collapse is not None]
    found = _by_elimination(models, expected_rows, records, models_of, found, collapsed)
    for spec in models:
        if found[spec.key] is not None and unreadable_answers(spec, evidence, unreadable, found[spec.key]):
            found[spec.key] = None  # the student's answer may be the model the grader cannot read
    return found


def _by_elimination(models: tuple[ModelSpec, ...], expected_rows: dict[str, tuple[LayerRow, ...]],
                    records: dict[int, ModelRecord], models_of: dict[str, dict[int, LayerTable]],
                    found: dict[str, FoundModel | None], collapsed: list[LayerTable]) -> dict[str, FoundModel | None]:
    """`found` with each open role given its one candidate, where it has exactly one, no model
    that collapsed could be it either, and that candidate could answer no other open role.
    `models_of`: role -> the models that may answer it."""
    used = {choice.record.id for choice in found.values() if choice is not None}
    open_roles = [spec for spec in models if found[spec.key] is None]
    tables = {model_id: table for role in models_of.values() for model_id, table in role.items()}
    candidates = {spec.key: [model_id for model_id in sorted(models_of[spec.key]) if model_id not in used
                             and is_candidate(spec, expected_rows[spec.key], tables[model_id], records[model_id])]
                  for spec in open_roles}
    chosen = dict(found)
    for spec in open_roles:
        ids = candidates[spec.key]
        rivals = [table for table in collapsed if could_be(expected_rows[spec.key], table)]
        if len(ids) != 1 or rivals or sum(ids[0] in others for others in candidates.values()) != 1:
            continue  # none, several, or one that could as well answer another role: no guess
        chosen[spec.key] = FoundModel(records[ids[0]], tables[ids[0]],
                                      similarity(expected_rows[spec.key], tables[ids[0]].rows), only_candidate=True)
    return chosen


def _by_similarity(models: tuple[ModelSpec, ...], expected_rows: dict[str, tuple[LayerRow, ...]],
                   records: dict[int, ModelRecord],
                   models_of: dict[str, dict[int, LayerTable]]) -> dict[str, FoundModel | None]:
    candidates = []
    for spec in models:
        for model_id, table in models_of[spec.key].items():
            record = records[model_id]
            score = similarity(expected_rows[spec.key], table.rows)
            if score < MINIMUM_SIMILARITY:
                continue
            named = holds_name(spec, record)
            candidates.append((score + (NAME_BONUS if named else 0.0), -model_id, spec.key, model_id, score))
    found: dict[str, FoundModel | None] = {spec.key: None for spec in models}
    used: set[int] = set()
    for _, _, key, model_id, score in sorted(candidates, reverse=True):
        if found[key] is None and model_id not in used:
            found[key] = FoundModel(records[model_id], models_of[key][model_id], score)
            used.add(model_id)
    return found


def is_candidate(spec: ModelSpec, expected: tuple[LayerRow, ...], table: LayerTable, record: ModelRecord) -> bool:
    """Whether a model could be the student's attempt at this role, however far its layers are.

    Only a role whose expected model ends in a Dense head has candidates: a model without one
    (a feature-map model, a bare extractor) cannot be told from an attempt at it. A candidate
    takes the role's input, is of its kind (convolutions before a Dense layer for a role with
    convolutions; no convolution or pooling for a dense one), nests another model only where
    the role does (a transfer head built on the extractor is no attempt at a plain CNN), has one
    output, and ends in a Dense head or in the role's number of classes. A model whose map
    collapses never is one."""
    if not expected or _head(expected).class_name != "Dense" or table.collapse is not None:
        return False
    rows = _rows_to_output(table, record)
    if not rows or not could_be(expected, table) or _nests(rows) != _nests(expected):
        return False
    classes = [row.class_name for row in _flat(rows)]
    if _has_convolutions(expected):
        convolutions = [index for index, name in enumerate(classes) if name in CONV_CLASSES]
        kind = bool(convolutions) and "Dense" in classes[convolutions[-1]:]
    else:
        kind = "Dense" in classes
    outputs = spec.output_classes or (expected[-1].output_shape or (None,))[-1]
    return kind and (_head(rows).class_name == "Dense" or rows[-1].output_shape == (None, outputs))


def could_be(expected: tuple[LayerRow, ...], table: LayerTable) -> bool:
    """Whether a model, judged only by its input and whether it convolves or pools, could answer the role."""
    spatial = any(row.class_name in SPATIAL_CLASSES for row in _flat(table.rows))
    return bool(expected) and _takes_input(expected[0], table.input_shape) and spatial == _has_convolutions(expected)


def _takes_input(first: LayerRow, input_shape) -> bool:
    """Whether the expected first layer, applied to this input, gives its expected output and count:
    the reference's input is not in its rows, but its first layer pins it down (a 'valid' 3x3
    Conv2D(64) with 640 parameters that outputs 26x26 reads a 28x28x1 map)."""
    while first.children:
        first = first.children[0]
    if input_shape is None or first.class_name in MODEL_CLASSES:
        return False
    layer = {"class_name": first.class_name, "config": {"name": first.name, **first.settings}}
    try:
        replayed = table_from_config("Sequential", {"layers": [layer]}, tuple(input_shape)).rows
    except UnreadableConfig:
        return False
    return bool(replayed) and (replayed[0].output_shape, replayed[0].params) == (first.output_shape, first.params)


def _rows_to_output(table: LayerTable, record: ModelRecord) -> tuple[LayerRow, ...]:
    """The rows up to the model's one output; none for a model with several outputs (an
    activation model returning every layer's output)."""
    outputs = output_layers(record.config or {})
    if outputs is None:
        return table.rows
    names = [row.name for row in table.rows]
    if len(outputs) != 1 or outputs[0] not in names:
        return ()
    return table.rows[:names.index(outputs[0]) + 1]


def _head(rows: tuple[LayerRow, ...]) -> LayerRow:
    """The last layer that changes what the model outputs (a trailing Dropout or Softmax does not)."""
    return next((row for row in reversed(rows) if row.class_name not in SHAPE_PRESERVING), rows[-1])


def _flat(rows: tuple[LayerRow, ...]):
    for row in rows:
        yield row
        yield from _flat(row.children)


def _nests(rows: tuple[LayerRow, ...]) -> bool:
    return any(row.children or row.class_name in MODEL_CLASSES for row in rows)


def _has_convolutions(rows: tuple[LayerRow, ...]) -> bool:
    return any(row.class_name in CONV_CLASSES for row in _flat(rows))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PROBLEM_LIMIT else text[: PROBLEM_LIMIT - 1] + "…"
