"""The HTML views: one standalone page per submission (`report.html`) and the class summary
(`index.html`).

They render the results model and nothing else: the words come from `feedback.py` and the
diagnosis catalogue, the numbers from each check's result and `data`. Pages carry their CSS and
pictures inline (PNG data URIs), so they open from a file with no network. Every template is
autoescaped: what a submission wrote (code, error text, layer and submission names) reaches the
page as text only, and nothing derived from results is marked safe.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import jinja2
import numpy as np

from ..checks.alignment import canonical_class
from ..diagnoses import CATALOGUE, Diagnosis, where_in_cell
from ..resources import templates_dir
from ..results import CheckResult, Outcome, SubmissionResult, max_score, total_score
from . import plots
from .feedback import HIDDEN_WORDS, OUTCOME_WORDS, hidden_note

SYMBOLS = {Outcome.PASSED: "✓", Outcome.FAILED: "✗", Outcome.ERROR: "!", Outcome.SKIPPED: "–"}
CONTEXT_LINES = 3
"""Lines of the student's cell shown either side of the line a diagnosis points at."""
EXCERPT_LINES = 16
"""Lines shown of a cell when a diagnosis names the cell but no line."""
VERSION_KEYS = ("cnngrader", "python", "tensorflow", "keras", "device", "exercise", "expected_sha256")
NOT_RECORDED = "not recorded"
META_SHOWN_APART = ("versions", "isolation")
"""Keys of a result's meta shown in tables of their own, not in the run record."""
ISOLATION_VALUE_LIMIT = 500
FREQUENT_DIAGNOSES = 15


def render_report(result: SubmissionResult, images: np.ndarray | None = None) -> str:
    """One submission's page; `images` are the evaluation images its misclassified indices point into."""
    return _environment().get_template("report.html.j2").render(**report_context(result, images))


def write_report(result: SubmissionResult, folder: Path, images: np.ndarray | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    path.write_text(render_report(result, images), encoding="utf-8")
    return path


def render_summary(results: list[SubmissionResult], run: dict) -> str:
    """The class summary; `run` holds exercise, title, mode, versions, seconds and started."""
    return _environment().get_template("summary.html.j2").render(**summary_context(results, run))


def write_summary(results: list[SubmissionResult], out: Path, run: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_summary(results, run), encoding="utf-8")
    return path


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                                     autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    environment.filters["points"] = _points
    return environment


# --- The submission's page -------------------------------------------------------------------


def report_context(result: SubmissionResult, images: np.ndarray | None = None) -> dict:
    sources = _sources(result.sources)
    checks = [_check_view(index, check, sources, images) for index, check in enumerate(result.checks)]
    instructor = [dict(diagnosis, check=view["name"]) for view in checks for diagnosis in view["instructor"]]
    return {
        "title": f"{result.submission}: {result.exercise}",
        "submission": result.submission,
        "exercise": result.exercise,
        "kind": result.kind,
        "mode": result.mode,
        "score": total_score(result),
        "max_score": max_score(result),
        "counts": _outcome_counts(result.checks),
        "passed": sum(1 for check in result.checks if check.outcome is Outcome.PASSED),
        "checks": checks,
        "first_fix": _first_fix(checks),
        "hidden_note": hidden_note(result),
        "instructor": instructor,
        "meta": _meta_rows(result.meta),
        "versions": _versions(result.meta.get("versions")),
        "isolation": _isolation(result.meta.get("isolation")),
    }


def _check_view(index: int, check: CheckResult, sources: dict[int, str], images) -> dict:
    anchor = f"check-{index}"
    data = check.data or {}
    diagnoses = [_diagnosis_view(f"{anchor}-{number}", diagnosis, sources)
                 for number, diagnosis in enumerate(check.diagnoses)]
    built_in = _source_view(sources, data.get("cell"), None) if data.get("cell") is not None else None
    return {
        "anchor": anchor,
        "id": check.check,
        "name": check.name,
        "model": check.model,
        **_outcome(check.outcome),
        "score": check.score,
        "max_score": check.max_score,
        "summary": check.summary,
        "visibility": check.visibility,
        "shown_when": HIDDEN_WORDS.get(check.visibility) if check.visibility != "visible" else None,
        "diagnoses": [view for view in diagnoses if view["audience"] == "student"],
        "instructor": [view for view in diagnoses if view["audience"] != "student"],
        "table": _layer_table(data, diagnoses) if check.check == "architecture" else None,
        "traces": _traces(data),
        "accuracy": _accuracy_view(data, images) if check.check == "accuracy" else None,
        "built_in": built_in,
    }


def _outcome(outcome: Outcome) -> dict:
    return {"outcome": outcome.value, "word": OUTCOME_WORDS[outcome], "symbol": SYMBOLS[outcome]}


def _outcome_counts(checks) -> list[dict]:
    counts = Counter(check.outcome for check in checks)
    return [{**_outcome(outcome), "count": counts[outcome]} for outcome in Outcome if counts[outcome]]


def _first_fix(checks: list[dict]) -> dict | None:
    """What a student should fix first: the first diagnosis of the first check that did not pass."""
    problems = sum(len(view["diagnoses"]) for view in checks if view["outcome"] in ("failed", "error"))
    for view in checks:
        if view["outcome"] in ("failed", "error") and view["diagnoses"]:
            first = view["diagnoses"][0]
            return {**first, "check": view["name"], "check_anchor": view["anchor"],
                    "source": first["source"] or view["built_in"], "problems": problems}
    for view in checks:
        if view["outcome"] in ("failed", "error"):
            return {"check": view["name"], "check_anchor": view["anchor"], "message": view["summary"],
                    "anchor": view["anchor"], "code": None, "title": view["name"], "hint": None,
                    "where": None, "layer": None, "source": None, "consequence_note": None,
                    "problems": problems}
    return None


def _diagnosis_view(anchor: str, diagnosis: Diagnosis, sources: dict[int, str]) -> dict:
    kind = diagnosis.kind
    return {
        "anchor": anchor,
        "code": diagnosis.code,
        "title": kind.title,
        "audience": kind.audience,
        "message": diagnosis.message,
        "hint": diagnosis.hint,
        "consequence_note": diagnosis.consequence_note,
        "consequences": list(diagnosis.consequences),
        "where": where_in_cell(diagnosis.cell, diagnosis.line) if diagnosis.cell is not None else None,
        "layer": diagnosis.layer,
        "source": _source_view(sources, diagnosis.cell, diagnosis.line),
        "detail": diagnosis.detail,
        "cell": diagnosis.cell,
    }


def _sources(sources: dict) -> dict[int, str]:
    """Cell number -> source, whether the keys are ints or (read back from JSON) strings."""
    cells = {}
    for key, text in (sources or {}).items():
        try:
            cells[int(key)] = str(text)
        except (TypeError, ValueError):
            continue
    return cells


def _source_view(sources: dict[int, str], cell, line) -> dict | None:
    """The lines of the cell around `line` (or its first lines), numbered, that line marked."""
    try:
        text = sources.get(int(cell)) if cell is not None else None
    except (TypeError, ValueError):
        return None
    if text is None:
        return None
    lines = text.splitlines() or [""]
    if isinstance(line, int) and 1 <= line <= len(lines):
        first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
    else:
        line, first, last = None, 1, min(len(lines), EXCERPT_LINES)
    return {"cell": int(cell), "line": line, "before": first > 1, "after": last < len(lines),
            "lines": [{"number": number, "text": lines[number - 1], "marked": number == line}
                      for number in range(first, last + 1)]}


# --- Views of a check's data -----------------------------------------------------------------


def _layer_table(data: dict, diagnoses: list[dict]) -> dict | None:
    """The expected and submitted tables side by side, each cell that differs marked."""
    pairs = data.get("rows")
    if not isinstance(pairs, list):
        return None
    codes_by_layer: dict[str, list[dict]] = {}
    for view in diagnoses:
        if view["layer"]:
            codes_by_layer.setdefault(view["layer"], []).append({"code": view["code"], "anchor": view["anchor"]})
    rows = [_layer_pair(pair.get("expected"), pair.get("actual"), codes_by_layer) for pair in pairs]
    totals = {side: _total_params([pair.get(side) for pair in pairs]) for side in ("expected", "actual")}
    return {"rows": rows, "totals": totals, "cell": data.get("cell"),
            "differs": sum(1 for row in rows if row["status"] != "same")}


def _layer_pair(expected: dict | None, actual: dict | None, codes_by_layer: dict) -> dict:
    if expected is None or actual is None:
        status = "extra" if expected is None else "missing"
        return {"status": status, "expected": _layer_cells(expected, {}), "actual": _layer_cells(actual, {}),
                "diagnoses": codes_by_layer.get((actual or {}).get("name"), [])}
    expected_settings, actual_settings = expected.get("settings") or {}, actual.get("settings") or {}
    differs = {
        "class_name": canonical_class(expected["class_name"]) != canonical_class(actual["class_name"]),
        "output_shape": _shape(expected.get("output_shape")) != _shape(actual.get("output_shape")),
        "params": expected.get("params") != actual.get("params"),
    }
    setting_differs = {key: _plain(actual_settings.get(key)) != _plain(value) for key, value in expected_settings.items()}
    hidden = {key for key, value in expected_settings.items()
              if not setting_differs[key] and _is_default(key, value, expected_settings)}
    marks = {**differs, "settings": setting_differs, "hidden": hidden}
    return {"status": "differs" if any(differs.values()) or any(setting_differs.values()) else "same",
            "expected": _layer_cells(expected, marks), "actual": _layer_cells(actual, marks),
            "diagnoses": codes_by_layer.get(actual.get("name"), [])}


def _layer_cells(row: dict | None, marks: dict) -> dict | None:
    if row is None:
        return None
    setting_marks = marks.get("settings", {})
    return {
        "name": str(row.get("name", "")),
        "class_name": str(row.get("class_name", "")),
        "output_shape": _shape_text(row.get("output_shape")),
        "params": _count(row.get("params")),
        "settings": [{"key": str(key), "value": _setting_text(value), "differs": bool(setting_marks.get(key))}
                     for key, value in (row.get("settings") or {}).items() if key not in marks.get("hidden", ())],
        "differs": {key: bool(marks.get(key)) for key in ("class_name", "output_shape", "params")},
    }


DEFAULT_SETTINGS = {"dilation_rate": [1, 1], "use_bias": True, "strides": [1, 1]}
"""Keras's defaults, left out of the layer table where both sides have them: they are never the
mistake, and the row stays readable."""


def _is_default(key: str, value, settings: dict) -> bool:
    if key == "strides" and "pool_size" in settings:
        return _plain(value) == _plain(settings["pool_size"])
    return key in DEFAULT_SETTINGS and _plain(value) == DEFAULT_SETTINGS[key]


def _traces(data: dict) -> list[dict]:
    """The pooling check's size traces, drawn and listed step by step. A collapse diagnosed from
    Keras's error message has no trace here: its message carries the sizes as text."""
    views = []
    for trace in data.get("traces") or []:
        steps = [step for step in trace.get("steps") or [] if step.get("size_in") and step.get("size_out")]
        if not steps:
            continue
        collapse = trace.get("collapse")
        sizes = ["x".join("?" if value is None else str(value) for value in steps[0]["size_in"])]
        sizes += [f"{step['layer']}: " + "x".join("?" if value is None else str(value) for value in step["size_out"])
                  for step in steps]
        views.append({"plot": plots.size_trace(steps, collapse), "collapse": collapse, "cell": trace.get("cell"),
                      "alt": "Map size per layer: " + ", ".join(sizes),
                      "steps": [{**step, "size_in": _size_text(step["size_in"]), "window": _size_text(step.get("window")),
                                 "size_out": _size_text(step["size_out"]), "collapsed": step["layer"] == collapse}
                                for step in steps]})
    return views


def _accuracy_view(data: dict, images) -> dict | None:
    """What the accuracy check measured; None when it measured nothing (not uploaded, not trained)."""
    if not data:
        return None
    accuracy, pass_mark, floor = (data.get(key) if _is_number(data.get(key)) else None
                                  for key in ("accuracy", "pass", "floor"))
    if accuracy is None or pass_mark is None or floor is None:
        scale = None
    else:
        reference = data.get("reference") if isinstance(data.get("reference"), dict) else None
        scale = plots.accuracy_scale(float(accuracy), float(pass_mark), float(floor), reference)
    confusion = _confusion(data.get("confusion"))
    classes = confusion["classes"] if confusion else []
    return {
        "accuracy": accuracy, "pass": pass_mark, "floor": floor, "scale": scale,
        "metric": data.get("metric"), "band": data.get("band"), "images": data.get("images"),
        "reference": data.get("reference") if isinstance(data.get("reference"), dict) else None,
        "artifact": data.get("artifact"),
        "confusion": confusion,
        "misclassified": _misclassified(data.get("misclassified") or [], classes, images),
        "curves": _curves(data.get("curves") or []),
    }


def _confusion(confusion) -> dict | None:
    if not isinstance(confusion, dict) or not confusion.get("matrix"):
        return None
    try:
        matrix = [[int(value) for value in row] for row in confusion["matrix"]]
    except (TypeError, ValueError):
        return None
    classes = [str(name) for name in confusion.get("classes") or []]
    classes += [str(index) for index in range(len(classes), len(matrix))]
    rows = []
    for true, counts in enumerate(matrix):
        total = sum(counts) or 1
        rows.append({"name": classes[true], "total": sum(counts), "cells": [
            {"count": count, "diagonal": true == predicted,
             "shade": round(count / total if true == predicted else math.sqrt(count / total), 3)}
            for predicted, count in enumerate(counts)]})
    return {"classes": classes, "rows": rows}


def _misclassified(entries: list, classes: list[str], images) -> list[dict]:
    views = []
    count = len(images) if images is not None else 0
    for entry in entries:
        index = _integer(entry.get("index"))
        picture = plots.image_uri(images[index]) if index is not None and 0 <= index < count else None
        views.append({"index": index, "image": picture,
                      "label": _class_name(entry.get("label"), classes),
                      "predicted": _class_name(entry.get("predicted"), classes)})
    return views


def _curves(curves: list) -> list[dict]:
    views = []
    for curve in curves:
        history = curve.get("history") if isinstance(curve, dict) else None
        plot = plots.learning_curves(history) if isinstance(history, dict) else None
        if plot:
            views.append({"fit": curve.get("fit"), "cell": curve.get("cell"), "plot": plot,
                          "series": sorted(str(key) for key in history)})
    return views


# --- The class summary -----------------------------------------------------------------------


def summary_context(results: list[SubmissionResult], run: dict) -> dict:
    run = run or {}
    maximum = max((max_score(result) for result in results), default=0.0)
    scores = [total_score(result) for result in results]
    columns = _check_columns(results)
    seconds = [result.meta.get("seconds") for result in results if _is_number(result.meta.get("seconds"))]
    return {
        "title": f"{run.get('exercise') or NOT_RECORDED}: class summary",
        "exercise": run.get("exercise") or NOT_RECORDED,
        "exercise_title": run.get("title") or NOT_RECORDED,
        "mode": run.get("mode") or NOT_RECORDED,
        "started": run.get("started") or NOT_RECORDED,
        "seconds": _seconds(run.get("seconds")),
        "count": len(results),
        "max_score": maximum,
        "mean": round(sum(scores) / len(scores), 2) if scores else None,
        "median": round(float(np.median(scores)), 2) if scores else None,
        "histogram": plots.score_histogram(scores, maximum) if results else None,
        "outcomes": [_outcome(outcome) for outcome in Outcome],
        "checks": [_pass_rate(column, results) for column in columns],
        "frequent": _frequent_diagnoses(results),
        "columns": [{"name": column["name"]} for column in columns],
        "submissions": [_submission_row(result, columns) for result in results],
        "versions": _versions(run.get("versions")),
        "mean_seconds": _seconds(sum(seconds) / len(seconds)) if seconds else NOT_RECORDED,
    }


def _check_columns(results: list[SubmissionResult]) -> list[dict]:
    """One column per check, in the order the checks first appear. A check that exists once per
    model is told apart by its name, which the spec gives per model."""
    columns: dict[tuple, dict] = {}
    for result in results:
        for check in result.checks:
            columns.setdefault((check.check, check.name), {"key": (check.check, check.name), "name": check.name})
    return list(columns.values())


def _find_check(result: SubmissionResult, key: tuple) -> CheckResult | None:
    return next((check for check in result.checks if (check.check, check.name) == key), None)


def _pass_rate(column: dict, results: list[SubmissionResult]) -> dict:
    found = [check for check in (_find_check(result, column["key"]) for result in results) if check is not None]
    counts = Counter(check.outcome for check in found)
    passed = counts[Outcome.PASSED]
    return {"name": column["name"], "id": column["key"][0], "graded": len(found),
            "counts": [{**_outcome(outcome), "count": counts[outcome]} for outcome in Outcome],
            "rate": round(100 * passed / len(found)) if found else 0}


def _frequent_diagnoses(results: list[SubmissionResult]) -> list[dict]:
    counts: Counter[str] = Counter()
    holders: dict[str, list[str]] = {}
    for result in results:
        for check in result.checks:
            for diagnosis in check.diagnoses:
                counts[diagnosis.code] += 1
                holders.setdefault(diagnosis.code, [])
                if result.submission not in holders[diagnosis.code]:
                    holders[diagnosis.code].append(result.submission)
    return [{"code": code, "title": CATALOGUE[code].title if code in CATALOGUE else code,
             "audience": CATALOGUE[code].audience if code in CATALOGUE else "student", "count": count,
             "submissions": [{"name": name, "href": report_href(name)} for name in holders[code]]}
            for code, count in counts.most_common(FREQUENT_DIAGNOSES)]


def _submission_row(result: SubmissionResult, columns: list[dict]) -> dict:
    maximum = max_score(result)
    score = total_score(result)
    cells = []
    for column in columns:
        check = _find_check(result, column["key"])
        cells.append(None if check is None else {**_outcome(check.outcome), "score": check.score,
                                                   "max_score": check.max_score,
                                                   "order": list(Outcome).index(check.outcome)})
    seconds = result.meta.get("seconds")
    return {"name": result.submission, "href": report_href(result.submission), "score": score,
            "max_score": maximum, "percent": round(100 * score / maximum) if maximum else 0,
            "checks": cells, "codes": sorted({d.code for check in result.checks for d in check.diagnoses}),
            "seconds": round(float(seconds), 1) if _is_number(seconds) else None}


def report_href(submission: str) -> str:
    """The link from the summary to a submission's page, its folder name quoted whole."""
    return quote(submission, safe="") + "/report.html"


# --- Small formatting helpers ----------------------------------------------------------------


def _versions(versions) -> list[dict]:
    versions = versions if isinstance(versions, dict) else {}
    keys = list(VERSION_KEYS) + [key for key in versions if key not in VERSION_KEYS]
    return [{"key": key, "value": NOT_RECORDED if versions.get(key) in (None, "") else str(versions[key])}
            for key in keys]


def _isolation(isolation) -> list[dict]:
    """How the runner confined the run (level, user, network, processes, memory, files), each
    entry as the runner words it; nothing when it did not say."""
    if not isinstance(isolation, dict):
        return []
    return [{"key": str(key), "value": str(value)[:ISOLATION_VALUE_LIMIT]} for key, value in isolation.items()]


def _meta_rows(meta: dict) -> list[dict]:
    """The run's record for the instructor: scalars as they are, nested values as JSON."""
    rows = []
    for key, value in (meta or {}).items():
        if key in META_SHOWN_APART:
            continue
        if isinstance(value, (dict, list, tuple)):
            try:
                text = json.dumps(value, indent=1, default=str, sort_keys=True)
            except (RecursionError, TypeError, ValueError):
                text = "(not shown: it nests too deeply or mixes keys that cannot be sorted)"
            rows.append({"key": str(key), "value": text[:20_000], "block": True})
        else:
            rows.append({"key": str(key), "value": _seconds(value) if key == "seconds" else str(value), "block": False})
    return rows


def _points(value) -> str:
    return f"{float(value):g}" if _is_number(value) else str(value)


def _seconds(value) -> str:
    return f"{float(value):.1f} s" if _is_number(value) else NOT_RECORDED


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _shape(shape):
    return tuple(shape) if isinstance(shape, (list, tuple)) else shape


def _shape_text(shape) -> str:
    if not isinstance(shape, (list, tuple)):
        return "?"
    return "(" + ", ".join("None" if value is None else str(value) for value in shape) + ")"


def _size_text(size) -> str:
    if not isinstance(size, (list, tuple)):
        return "?"
    return "x".join("?" if value is None else str(value) for value in size)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _setting_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(str(item) for item in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


def _total_params(rows: list) -> str:
    counts = [row.get("params") for row in rows if row is not None]
    return f"{sum(counts):,}" if all(isinstance(count, int) for count in counts) else "?"


def _class_name(label, classes: list[str]) -> str:
    number = _integer(label)
    if number is not None and 0 <= number < len(classes):
        return classes[number]
    return str(label)


def _integer(value) -> int | None:
    """An int (numpy's included) as a Python int; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return None
    return int(value)
