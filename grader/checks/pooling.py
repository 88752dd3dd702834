"""Pooling dimensions: does any model's feature map shrink to nothing?

Every model the submission built (or tried to build: Keras keeps the layer that failed) is
traced with the shape calculator; the first convolution or pooling layer whose output is empty
gets `pooling_collapse`, naming it, the sizes that led there, and the fix. A model whose config
cannot be read cannot be traced: it gets `model_unreadable`, and the check does not pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..diagnoses import Diagnosis, diagnose
from ..evidence import Evidence
from ..exercises import CheckSpec
from ..layers import LayerTable
from ..results import CheckResult, Outcome
from ..shapes import format_size, format_trace
from .models import unreadable_diagnosis


def collapse_diagnosis(table: LayerTable, cell: int | None) -> Diagnosis | None:
    step = table.collapse
    if step is None:
        return None
    steps = list(table.trace[: table.trace.index(step) + 1])
    return diagnose("pooling_collapse", cell=cell, layer=step.layer, class_name=step.class_name,
                    size_in=format_size(step.size_in), window=format_size(step.window),
                    size_out=format_size(step.size_out), trace=format_trace(steps))


def trace_view(model_id: int, cell: int | None, table: LayerTable) -> dict:
    """The size trace up to the collapse, as plain data for the reports' plot."""
    step = table.collapse
    steps = table.trace[: table.trace.index(step) + 1] if step is not None else table.trace
    return {"model_id": model_id, "cell": cell, "collapse": step.layer if step is not None else None,
            "steps": [{"layer": s.layer, "class_name": s.class_name, "size_in": list(s.size_in),
                       "window": list(s.window), "size_out": list(s.size_out)} for s in steps]}


def check_pooling(check: CheckSpec, evidence: Evidence, tables: dict[int, LayerTable],
                  unreadable: Mapping[int, str] = MappingProxyType({})) -> CheckResult:
    """`unreadable`: model id -> what could not be read of its config (see `models.read_tables`)."""
    records = {record.id: record for record in evidence.models}
    diagnoses, traces, seen = [], [], set()
    for model_id, table in sorted(tables.items()):
        diagnosis = collapse_diagnosis(table, records[model_id].cell)
        key = diagnosis and (diagnosis.field("trace"), diagnosis.layer)
        if diagnosis is not None and key not in seen:
            seen.add(key)
            diagnoses.append(diagnosis)
            traces.append(trace_view(model_id, records[model_id].cell, table))
    untraced = [unreadable_diagnosis(records[model_id], problem) for model_id, problem in sorted(unreadable.items())]
    if diagnoses:
        return CheckResult(check.id, check.name, Outcome.FAILED, 0.0, check.points, check.visibility,
                           f"{len(diagnoses)} model(s) shrink a feature map to nothing.", tuple(diagnoses + untraced),
                           data={"traces": traces})
    if untraced:
        return CheckResult(check.id, check.name, Outcome.ERROR, 0.0, check.points, check.visibility,
                           f"Not judged: the config of {len(untraced)} model(s) cannot be read, so their feature "
                           "maps cannot be traced.", tuple(untraced))
    traced = sum(1 for table in tables.values() if table.trace)
    if not traced:
        return CheckResult(check.id, check.name, Outcome.SKIPPED, 0.0, check.points, check.visibility,
                           "No model with convolution or pooling layers was built, so there were no "
                           "feature maps to trace.")
    return CheckResult(check.id, check.name, Outcome.PASSED, check.points, check.points, check.visibility,
                       f"Traced {traced} model(s) with convolutions or pooling: every feature map keeps a size.")
