"""Execution: did the submission run, and what went wrong where?

Every failing cell gets one diagnosis from the error catalogue (errors.py); a run the grader had
to stop (time, memory, a dead kernel) or could not start (unreadable notebook, unloadable model,
missing entry point) gets its own. Full points only for a clean run; a run that was stopped or
could not be read is an error, since the rest of it could not be judged.
"""

from __future__ import annotations

from ..diagnoses import Diagnosis, diagnose
from ..evidence import Evidence
from ..exercises import CheckSpec
from ..layers import LayerTable
from ..results import CheckResult, Outcome
from .errors import explain_errors

WHERE_STOPPED = {"notebook": "Cell {cell}", "module": "Your module", "saved_model": "Loading the model"}


def check_execution(check: CheckSpec, evidence: Evidence, tables: dict[int, LayerTable],
                    submission_name: str) -> CheckResult:
    diagnoses = _reading_problem(evidence, submission_name)
    if not diagnoses:
        tables_by_cell: dict[int, list[LayerTable]] = {}
        for record in evidence.models:
            if record.id in tables and record.cell is not None:
                tables_by_cell.setdefault(record.cell, []).append(tables[record.id])
        file = submission_name if evidence.kind == "module" else None
        runs = [run for run in evidence.cells if run.status == "error" and run.error is not None]
        diagnoses = explain_errors(runs, tables_by_cell, file=file)
        diagnoses += [diagnose("timeout", cell=run.cell, where=f"Cell {run.cell}", seconds=_seconds(run.error.evalue))
                      for run in evidence.cells if run.status == "timeout"]
        diagnoses += _missing_entry_points(evidence)
        diagnoses += _stopped(evidence)
        diagnoses += _no_evidence(evidence)
    stopped = evidence.invalid is not None or evidence.stopped is not None or evidence.unwatched
    if not diagnoses:
        ran = sum(1 for run in evidence.cells if run.status == "ok")
        summary = f"All {ran} cells ran without an error." if evidence.kind == "notebook" else "It ran without an error."
        return CheckResult(check.id, check.name, Outcome.PASSED, check.points, check.points,
                           check.visibility, summary)
    outcome = Outcome.ERROR if stopped else Outcome.FAILED
    failing = sorted({d.cell for d in diagnoses if d.cell is not None})
    summary = ("The submission could not be read." if evidence.invalid is not None else
               "The grader could not examine the run." if evidence.unwatched else
               "The run was stopped before the end." if stopped else
               f"{len(diagnoses)} problem(s) while running" + (f", in cell(s) {', '.join(map(str, failing))}." if failing else "."))
    return CheckResult(check.id, check.name, outcome, 0.0, check.points, check.visibility, summary, tuple(diagnoses))


def _reading_problem(evidence: Evidence, name: str) -> list[Diagnosis]:
    if evidence.invalid is None:
        return []
    if evidence.kind == "saved_model":
        return [diagnose("unloadable_model", path=name, problem=evidence.invalid)]
    return [diagnose("invalid_notebook", path=name, problem=evidence.invalid)]


def _missing_entry_points(evidence: Evidence) -> list[Diagnosis]:
    """An entry point that is not there, or that returns something other than a model."""
    diagnoses = []
    for name, status in evidence.entry_points.items():
        if status == "missing":
            diagnoses.append(diagnose("missing_entry_point", name=name))
        elif status.startswith("returned "):
            diagnoses.append(diagnose("returned_not_a_model", name=name, returned=status.removeprefix("returned ")))
    return diagnoses


def _stopped(evidence: Evidence) -> list[Diagnosis]:
    if evidence.stopped is None:
        return []
    cell = evidence.stopped_cell if evidence.kind == "notebook" else None
    place = f" in cell {cell}" if cell is not None else ""
    if evidence.stopped == "timeout":
        where = f"Cell {cell}" if cell is not None else "Your submission"
        return [diagnose("timeout", cell=cell, where=where, seconds=_seconds(evidence.stopped_detail))]
    if evidence.stopped == "memory_limit":
        return [diagnose("memory_limit", cell=cell, where=place, limit=evidence.stopped_detail.removeprefix("over "))]
    return [diagnose("kernel_died", cell=cell, where=place, reason=evidence.stopped_detail or "no reason given",
                     detail=evidence.stopped_detail)]


def _no_evidence(evidence: Evidence) -> list[Diagnosis]:
    """The probe's report is missing although the run was not stopped: the grader's own failure."""
    return [diagnose("no_evidence", problem=str(evidence.meta["probe"]))] if evidence.unwatched else []


def _seconds(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".").strip(".")
    return digits or "the allowed"
