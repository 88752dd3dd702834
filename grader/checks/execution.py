"""Execution: did the submission run, and what went wrong where?

Every failing cell gets one diagnosis from the error catalogue (errors.py); a run the grader had
to stop (time, memory, disk, processes, a dead kernel) or could not start (unreadable notebook,
unloadable model, missing entry point) gets its own, and so does every limit the runner reports
hit without stopping the run (`meta["limits_hit"]`). Full points only for a clean run; a run
that was stopped or could not be read is an error, since the rest of it could not be judged.
Output cut at its cap is said but costs nothing: the run went on, only what a cell printed was
dropped, and Keras's progress bars alone can fill it. The errors are explained for the Keras
mode the runner says the run had (`meta["keras_mode"]`, 2 or 3; anything else is 3), since some
hints depend on it.
"""

from __future__ import annotations

from ..diagnoses import Diagnosis, diagnose
from ..evidence import Evidence
from ..exercises import CheckSpec
from ..layers import LayerTable
from ..results import CheckResult, Outcome
from .errors import explain_errors, limit_words

WHERE_STOPPED = {"notebook": "Cell {cell}", "module": "Your module", "saved_model": "Loading the model"}
LIMIT_CODES = {"output": "output_limit", "processes": "process_limit", "file_size": "file_limit",
               "disk": "disk_limit", "memory": "memory_limit"}
"""Each limit the runner reports in `meta["limits_hit"]`, and its diagnosis."""
FREE = frozenset({"output_limit"})
"""Diagnoses shown without costing the check its points."""


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
        hits = limits_hit(evidence)
        values = {limit: value for limit, _, value in hits if value}
        diagnoses = explain_errors(runs, tables_by_cell, file=file, limits=values,
                                   keras=evidence.meta.get("keras_mode", 3))
        diagnoses += [diagnose("timeout", cell=run.cell, where=f"Cell {run.cell}", seconds=_seconds(run.error.evalue))
                      for run in evidence.cells if run.status == "timeout"]
        diagnoses += _missing_entry_points(evidence)
        diagnoses += _stopped(evidence)
        diagnoses += _limits(hits, diagnoses, evidence.kind)
        diagnoses += _no_evidence(evidence)
    stopped = evidence.invalid is not None or evidence.stopped is not None or evidence.unwatched
    costly = [diagnosis for diagnosis in diagnoses if diagnosis.code not in FREE]
    if not costly:
        ran = sum(1 for run in evidence.cells if run.status == "ok")
        summary = f"All {ran} cells ran without an error." if evidence.kind == "notebook" else "It ran without an error."
        if diagnoses:
            summary += " Some output was cut at the grader's limit, which costs nothing."
        return CheckResult(check.id, check.name, Outcome.PASSED, check.points, check.points,
                           check.visibility, summary, tuple(diagnoses))
    outcome = Outcome.ERROR if stopped else Outcome.FAILED
    failing = sorted({d.cell for d in costly if d.cell is not None})
    summary = ("The submission could not be read." if evidence.invalid is not None else
               "The grader could not examine the run." if evidence.unwatched else
               "The run was stopped before the end." if stopped else
               f"{len(costly)} problem(s) while running" + (f", in cell(s) {', '.join(map(str, failing))}." if failing else "."))
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
    where = f"Cell {cell}" if cell is not None else "Your submission"
    amount = evidence.stopped_detail.removeprefix("over ").removesuffix(" written").strip()
    if evidence.stopped == "disk_limit":
        return [diagnose("disk_limit", cell=cell, where=where, limit=limit_words("disk", amount),
                         detail=evidence.stopped_detail)]
    if evidence.stopped == "process_limit":
        return [diagnose("process_limit", cell=cell, where=where, limit=limit_words("processes", amount),
                         detail=evidence.stopped_detail)]
    return [diagnose("kernel_died", cell=cell, where=place, reason=evidence.stopped_detail or "no reason given",
                     detail=evidence.stopped_detail)]


def limits_hit(evidence: Evidence) -> list[tuple[str, int | None, str]]:
    """(limit, cell, value) of each limit the runner reports hit, in its order; an entry that is
    not one of `LIMIT_CODES` as the runner writes it is left out."""
    entries = evidence.meta.get("limits_hit")
    hits = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("limit"), str) or entry["limit"] not in LIMIT_CODES:
            continue
        cell = entry.get("cell")
        value = entry.get("value")
        hits.append((entry["limit"], cell if isinstance(cell, int) and not isinstance(cell, bool) else None,
                     value.strip() if isinstance(value, str) else ""))
    return hits


def _limits(hits: list[tuple[str, int | None, str]], said: list[Diagnosis], kind: str) -> list[Diagnosis]:
    """One diagnosis per limit hit, unless the cell's error or the stopped run already says it
    (in that cell, or where one of them does not know the cell)."""
    diagnoses: list[Diagnosis] = []
    for limit, cell, value in hits:
        code = LIMIT_CODES[limit]
        cell = cell if kind == "notebook" else None
        if any(d.code == code and (d.cell == cell or None in (d.cell, cell)) for d in said + diagnoses):
            continue
        if code == "memory_limit":  # its message, older than the others, says where at its end
            where = f" in cell {cell}" if cell is not None else ""
        else:
            where = f"Cell {cell}" if cell is not None else "Your code"
        diagnoses.append(diagnose(code, cell=cell, where=where, limit=limit_words(limit, value)))
    return diagnoses


def _no_evidence(evidence: Evidence) -> list[Diagnosis]:
    """The probe's report is missing although the run was not stopped: the grader's own failure."""
    return [diagnose("no_evidence", problem=str(evidence.meta["probe"]))] if evidence.unwatched else []


def _seconds(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".").strip(".")
    return digits or "the allowed"
