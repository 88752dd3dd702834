"""Recomputed tables for every model in the evidence, and which one answers which expected model.

Models are found by the names the exercise gives and, whatever their names, by matching their
architecture against the expected ones: seed 003 builds three networks all called `model`,
and a functional-style `cnn = keras.Model(inputs, outputs)` has no Sequential to look for.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..evidence import Evidence, ModelRecord
from ..exercises import ModelSpec
from ..layers import LayerRow, LayerTable, table_from_config
from .alignment import align_layers, same_family

NAME_BONUS = 0.05
MINIMUM_SIMILARITY = 0.45
"""A model with every layer class right but every shape wrong scores 0.5: still an attempt
at the expected model. Another exercise's model that merely shares a block pattern (the
extractor against the strided CNN: 0.375) is not."""


@dataclass(frozen=True)
class FoundModel:
    """The submitted model chosen to answer one expected model."""

    record: ModelRecord
    table: LayerTable
    similarity: float
    """0..1: how much of the layer sequence matches the expected one, by layer class."""


def tables_for(evidence: Evidence) -> dict[int, LayerTable]:
    """Each model's table recomputed from its config; models without a config are left out."""
    tables = {}
    for record in evidence.models:
        if record.config is None:
            continue
        try:
            tables[record.id] = table_from_config(record.class_name, record.config)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a config we cannot read is not evidence of anything
    return tables


def similarity(expected: tuple[LayerRow, ...], actual: tuple[LayerRow, ...]) -> float:
    if not expected and not actual:
        return 1.0
    pairs = align_layers(expected, actual)
    matched = sum(1 for e, a in pairs if e is not None and a is not None and same_family(e, a))
    exact = sum(1 for e, a in pairs if e is not None and a is not None and same_family(e, a)
                and e.output_shape == a.output_shape and e.params == a.params)
    return (matched + exact) / (2 * max(len(expected), len(actual)))


def find_models(models: tuple[ModelSpec, ...], expected_rows: dict[str, tuple[LayerRow, ...]],
                evidence: Evidence, tables: dict[int, LayerTable]) -> dict[str, FoundModel | None]:
    """Assign each expected model the best-matching submitted model, each used at most once."""
    candidates = []
    records = {record.id: record for record in evidence.models}
    for spec in models:
        for model_id, table in tables.items():
            record = records[model_id]
            score = similarity(expected_rows[spec.key], table.rows)
            if score < MINIMUM_SIMILARITY:
                continue
            named = bool(set(record.names) & set(spec.names)) or (spec.entry_point in record.names)
            candidates.append((score + (NAME_BONUS if named else 0.0), -model_id, spec.key, model_id, score))
    found: dict[str, FoundModel | None] = {spec.key: None for spec in models}
    used: set[int] = set()
    for _, _, key, model_id, score in sorted(candidates, reverse=True):
        if found[key] is None and model_id not in used:
            found[key] = FoundModel(records[model_id], tables[model_id], score)
            used.add(model_id)
    return found
