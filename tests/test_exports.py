"""grades.csv and junit.xml: views of the results a gradebook and a CI dashboard import (layer 1)."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

from grader.diagnoses import diagnose
from grader.report.exports import write_grades_csv, write_junit
from grader.report.feedback import check_lines
from grader.results import CheckResult, Outcome, SubmissionResult

VERSIONS = {"cnngrader": "0.1.0", "python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1",
            "device": "x86_64, 2 CPU cores", "exercise": "mnist_models", "expected_sha256": "ab" * 32}


def results() -> list[SubmissionResult]:
    reshape = diagnose("hard_coded_count", cell=2, count=60000, size=7840000, rest="784")
    reshape = replace(reshape, consequences=(3, 5))
    bob_error = diagnose("runtime_error", cell=4, ename="ValueError", evalue="bad \x1b[31mcolour\x1b[0m <b>")
    alice = SubmissionResult("alice", "mnist_models", "notebook", mode="full", meta={"versions": VERSIONS, "seconds": 12.5},
                             checks=(
        CheckResult("execution", "Notebook runs", Outcome.FAILED, 0.0, 1.0, summary="1 problem", diagnoses=(reshape,)),
        CheckResult("architecture", "Dense model", Outcome.PASSED, 2.0, 2.0, summary="ok", model="dense10"),
        CheckResult("architecture", "CNN", Outcome.ERROR, 0.0, 3.0, summary="not judged", model="cnn"),
        CheckResult("comparison", "Ranking", Outcome.SKIPPED, 0.0, 2.0, "after_due_date", "skipped"),
    ))
    bob = SubmissionResult("bob, \"the\" student", "mnist_models", "notebook", meta={"versions": VERSIONS}, checks=(
        CheckResult("execution", "Notebook runs", Outcome.FAILED, 0.0, 1.0, summary="1 problem", diagnoses=(bob_error,)),
        CheckResult("architecture", "Dense model", Outcome.PASSED, 2.0, 2.0, model="dense10"),
    ))
    return [alice, bob]


def test_grades_csv_has_one_row_per_submission_and_one_unique_column_per_check(tmp_path):
    path = write_grades_csv(results(), tmp_path / "grades.csv")
    rows = list(csv.reader(path.open(newline="")))
    header = rows[0]
    assert header == ["id", "total", "max_score", "execution", "architecture[dense10]", "architecture[cnn]",
                      "comparison", "graded_with"]
    assert len(set(header)) == len(header) and all(header)
    assert rows[1][:7] == ["alice", "2", "8", "0", "2", "0", "0"]
    assert rows[2][:7] == ['bob, "the" student', "2", "3", "0", "2", "", ""]
    assert all("cnngrader 0.1.0" in row[-1] and "abababababab" in row[-1] for row in rows[1:])


def test_junit_has_a_case_per_check_with_failures_errors_and_skips_told_apart(tmp_path):
    path = write_junit(results(), tmp_path / "junit.xml")
    root = ElementTree.parse(path).getroot()
    alice, bob = root.findall("testsuite")
    assert (alice.get("tests"), alice.get("failures"), alice.get("errors"), alice.get("skipped")) == ("4", "1", "1", "1")
    cases = {case.get("name"): case for case in alice.findall("testcase")}
    assert list(cases) == ["execution", "architecture[dense10]", "architecture[cnn]", "comparison"]
    failure = cases["execution"].find("failure")
    assert failure.text == "\n".join(check_lines(results()[0].checks[0]))
    assert results()[0].checks[0].diagnoses[0].consequence_note in failure.text
    assert cases["architecture[dense10]"].find("failure") is None
    assert cases["architecture[cnn]"].find("error") is not None and cases["comparison"].find("skipped") is not None
    properties = {prop.get("name"): prop.get("value") for prop in alice.find("properties")}
    assert properties["version.tensorflow"] == "2.21.0" and properties["score"] == "2"
    # A terminal colour code in the student's error text is not XML: it is replaced, the file parses.
    assert "\x1b" not in bob.find("testcase/failure").text and "<b>" in bob.find("testcase/failure").text
