"""From evidence to results: the exercise's checks, in the order its spec lists them.

Pure: the spec, the expected file's contents and the evidence come in as data; a
`SubmissionResult` comes out. The same evidence always gives the same grade.
"""

from __future__ import annotations

from dataclasses import replace

from .diagnoses import diagnose
from .evidence import Evidence
from .exercises import CheckSpec, ExerciseSpec
from .layers import LayerRow
from .results import CheckResult, Outcome, SubmissionResult
from .checks.architecture import with_output_units
from .checks.context import Grading
from .checks.models import find_models, read_tables
from .checks.registry import CHECKS

NOT_FOR_KIND = {
    "module": "Not checked for a module: its functions return models before training; this check "
              "is about what a notebook does with them (training, saving, reloading, evaluating).",
    "saved_model": "Not checked for a saved model: it shows the trained model, not how it was trained, "
                   "saved or reloaded.",
}
QUICK_SKIP = ("Skipped in the quick self-check: training was capped, so this is not graded here. "
              "Grade without --quick (or with --artifacts and your saved model files) to have it graded.")


def prepare_grading(spec: ExerciseSpec, expected: dict, evidence: Evidence, submission: str = "submission",
                    mode: str = "full", artifacts: dict | None = None,
                    missing_artifacts: dict | None = None) -> Grading:
    """Everything the checks share, derived once: tables, which model answers which role."""
    tables, unreadable = read_tables(evidence)
    expected_rows = {
        model.key: with_output_units(tuple(LayerRow.from_json(r) for r in expected["models"][model.key]["layers"]),
                                     model.output_classes)
        for model in spec.models
    }
    buildable = {model_id: table for model_id, table in tables.items() if table.collapse is None}
    return Grading(spec=spec, expected=expected, evidence=evidence, submission=submission, mode=mode,
                   tables=tables, expected_rows=expected_rows,
                   found=find_models(spec.models, expected_rows, evidence, buildable, unreadable),
                   missing_note=_missing_note(evidence, len(tables)),
                   build_failure=failed_build(evidence, tables), artifacts=artifacts or {},
                   missing_artifacts=missing_artifacts or {}, unreadable=unreadable)


def evaluate(spec: ExerciseSpec, expected: dict, evidence: Evidence, submission: str,
             mode: str = "full", meta: dict | None = None, artifacts: dict | None = None,
             missing_artifacts: dict | None = None) -> SubmissionResult:
    grading = prepare_grading(spec, expected, evidence, submission, mode, artifacts, missing_artifacts)
    checks = tuple(replace(run_check(grading, check), model=check.model) for check in spec.checks)
    return SubmissionResult(submission=submission, exercise=spec.id, kind=evidence.kind, checks=checks,
                            mode=mode, meta={**evidence.meta, **(meta or {})},
                            sources=cited_sources(evidence, checks))


def run_check(grading: Grading, check: CheckSpec) -> CheckResult:
    evidence = grading.evidence
    if evidence.invalid is not None and check.id != "execution":
        return _unjudged(check, Outcome.ERROR, "Not checked: the submission could not be read.")
    if evidence.unwatched and check.id != "execution":
        return _unjudged(check, Outcome.ERROR, "Not checked: the grader could not examine the run (see the execution check).")
    if evidence.kind not in CHECKS[check.id].kinds:
        return _unjudged(check, Outcome.SKIPPED, NOT_FOR_KIND.get(evidence.kind, "Not checked for this kind of submission."))
    if grading.mode == "quick" and CHECKS[check.id].training:
        return _unjudged(check, Outcome.SKIPPED, QUICK_SKIP)
    return CHECKS[check.id].run(grading, check)


def cited_sources(evidence: Evidence, checks: tuple[CheckResult, ...]) -> dict[int, str]:
    """The source of every cell a diagnosis or a check's view points at, for the reports."""
    cells = {diagnosis.cell for check in checks for diagnosis in check.diagnoses}
    cells |= {cell for check in checks for diagnosis in check.diagnoses for cell in diagnosis.consequences}
    cells |= {check.data.get("cell") for check in checks}
    return {run.cell: run.source for run in evidence.cells if run.cell is not None and run.cell in cells}


def needs_predictions(spec: ExerciseSpec, mode: str) -> bool:
    """Whether the evaluation process must run for this exercise in this mode."""
    return mode != "quick" and any(CHECKS[check.id].predictions for check in spec.checks)


def _unjudged(check: CheckSpec, outcome: Outcome, summary: str) -> CheckResult:
    return CheckResult(check.id, check.name, outcome, 0.0, check.points, check.visibility, summary)


def failed_build(evidence: Evidence, tables: dict) -> str | None:
    """Where building a model failed, if it did: a cell that raised while a model was being built
    in it (Keras keeps the half-built model), a model whose map collapses, or an entry point."""
    failing = {run.cell for run in evidence.cells if run.status == "error" and run.cell is not None}
    for record in evidence.models:
        collapsed = record.id in tables and tables[record.id].collapse is not None
        if record.cell in failing or (collapsed and record.cell is not None):
            return f"cell {record.cell}"
    broken = [name for name, status in evidence.entry_points.items() if status != "ok"]
    if broken:
        return f"the entry point {broken[0]}()"
    return None


def _missing_note(evidence: Evidence, model_count: int) -> str:
    """Where to look when a model is missing: the models that were built, or the first failing cell."""
    failing = [run for run in evidence.cells if run.status in ("error", "timeout") and run.cell is not None]
    if model_count:
        note = f": none of the {model_count} model(s) your code built has layers close to it"
        return note + (f" (cell {failing[0].cell} failed, which may have stopped it being built)" if failing else "")
    if failing:
        return f" (cell {failing[0].cell} failed; the model may not have been built)"
    if evidence.kind == "module" and any(v != "ok" for v in evidence.entry_points.values()):
        return " (an entry point is missing or failed)"
    return " (your code built no Keras model)"


def error_result(spec: ExerciseSpec, submission: str, kind: str, problem: str, mode: str = "full",
                 code: str = "unsupported_submission") -> SubmissionResult:
    """A full result, every check an error, for a submission the grader could not grade: a file it
    cannot read (`unsupported_submission`) or its own failure (`grader_error`)."""
    summary = ("Not checked: the grader failed on this submission; the instructor has the details."
               if code == "grader_error" else "Not checked: the submission could not be read.")
    checks = []
    for check in spec.checks:
        diagnoses = (diagnose(code, path=submission, problem=problem),) if check.id == "execution" else ()
        checks.append(CheckResult(check.id, check.name, Outcome.ERROR, 0.0, check.points, check.visibility,
                                  summary, diagnoses))
    return SubmissionResult(submission, spec.id, kind, tuple(checks), mode)
