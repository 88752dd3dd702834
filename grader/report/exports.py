"""Exports for a graded folder: `grades.csv` for a gradebook, `junit.xml` for CI dashboards.

Views of the results like the others: one row (or one test suite) per submission, one column (or
test case) per check, the words taken from feedback.py, and the versions that produced them.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from ..results import CheckResult, Outcome, SubmissionResult, max_score, total_score
from .feedback import check_lines

NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold (terminal colour codes in a student's error text, say)."""

JUNIT_STATE = {Outcome.FAILED: "failure", Outcome.ERROR: "error", Outcome.SKIPPED: "skipped"}


def check_key(check: CheckResult) -> str:
    """A check's column name: its id, with the model key where the check exists once per model."""
    return f"{check.check}[{check.model}]" if check.model else check.check


def graded_with(versions: dict | None) -> str:
    """One line naming what produced a grade."""
    if not versions:
        return "not recorded"
    return (f"cnngrader {versions.get('cnngrader')}, Python {versions.get('python')}, TensorFlow "
            f"{versions.get('tensorflow')}, Keras {versions.get('keras')}, {versions.get('device')}, "
            f"{versions.get('exercise')} expected {str(versions.get('expected_sha256', ''))[:12]}")


def grade_rows(results: list[SubmissionResult]) -> tuple[list[str], list[list]]:
    """The gradebook: a header (id, total, max_score, one column per check, graded_with) and a
    row of numbers per submission. Column names are unique and never empty."""
    keys: list[str] = []
    for result in results:
        keys += [key for key in map(check_key, result.checks) if key not in keys]
    header = ["id", "total", "max_score", *keys, "graded_with"]
    rows = []
    for result in results:
        scores = {check_key(check): f"{check.score:g}" for check in result.checks}
        rows.append([result.submission, f"{total_score(result):g}", f"{max_score(result):g}",
                     *(scores.get(key, "") for key in keys), graded_with(result.meta.get("versions"))])
    return header, rows


def write_grades_csv(results: list[SubmissionResult], path: Path) -> Path:
    header, rows = grade_rows(results)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def junit_tree(results: list[SubmissionResult]) -> ElementTree.Element:
    """One test suite per submission, one test case per check; a failed check is a <failure>, one
    that could not be judged an <error>, each carrying the student's lines for that check."""
    suites = ElementTree.Element("testsuites", name="cnngrader")
    for result in results:
        suite = ElementTree.SubElement(suites, "testsuite", name=xml_text(result.submission),
                                       tests=str(len(result.checks)))
        properties = ElementTree.SubElement(suite, "properties")
        for name, value in {"exercise": result.exercise, "mode": result.mode, "score": f"{total_score(result):g}",
                            "max_score": f"{max_score(result):g}",
                            **{f"version.{k}": str(v) for k, v in (result.meta.get("versions") or {}).items()}}.items():
            ElementTree.SubElement(properties, "property", name=name, value=xml_text(value))
        counts = {state: 0 for state in ("failures", "errors", "skipped")}
        for check in result.checks:
            case = ElementTree.SubElement(suite, "testcase", classname=xml_text(f"{result.exercise}.{result.submission}"),
                                          name=check_key(check), time="0")
            state = JUNIT_STATE.get(check.outcome)
            if state is None:
                continue
            counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[state]] += 1
            element = ElementTree.SubElement(case, state, message=xml_text(check.summary or check.outcome.value))
            element.text = xml_text("\n".join(check_lines(check)))
        suite.attrib.update({key: str(value) for key, value in counts.items()})
        suite.set("time", str(result.meta.get("seconds", 0)))
    return suites


def xml_text(text: str) -> str:
    return NOT_XML.sub("\ufffd", text)


def write_junit(results: list[SubmissionResult], path: Path) -> Path:
    tree = ElementTree.ElementTree(junit_tree(results))
    ElementTree.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
