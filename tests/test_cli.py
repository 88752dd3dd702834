"""The command line: exit statuses, reference show, and grading that always leaves results."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from grader.cli import main


def cnngrader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_reference_show_prints_the_fashion_cnn_table():
    shown = cnngrader("reference", "show", "fashion_cnn")
    assert shown.returncode == 0, shown.stderr
    for number in ("320", "18,496", "313,700", "1,010", "333,526"):
        assert number in shown.stdout


def test_wrong_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["grade", "x.ipynb"])  # --exercise missing
    assert exited.value.code == 2


def test_unknown_exercise_exits_1_with_the_known_ones(tmp_path, capsys):
    notebook = tmp_path / "a.ipynb"
    notebook.write_text("{}")
    assert main(["grade", str(notebook), "--exercise", "no_such", "--out", str(tmp_path / "out")]) == 1
    assert "fashion_cnn" in capsys.readouterr().err


def test_missing_path_exits_1(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "absent.ipynb"), "--exercise", "fashion_cnn"]) == 1
    assert "absent.ipynb" in capsys.readouterr().err


def test_broken_submissions_still_get_results_and_exit_0(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "bob.ipynb").write_text("this is not a notebook")
    (folder / "carol").mkdir()
    (folder / "carol" / "notes.txt").write_text("nothing gradable here")
    out = tmp_path / "out"
    assert main(["grade", str(folder), "--exercise", "fashion_cnn", "--out", str(out)]) == 0
    for name, code in (("bob", "invalid_notebook"), ("carol", "unsupported_submission")):
        results = json.loads((out / name / "results.json").read_text())
        assert results["score"] == 0
        codes = {d["code"] for t in results["tests"] for d in t["extra_data"]["diagnoses"]}
        assert codes == {code}
        versions = results["extra_data"]["meta"]["versions"]
        assert versions["exercise"] == "fashion_cnn" and len(versions["expected_sha256"]) == 64
        assert set(versions) >= {"cnngrader", "python", "tensorflow", "keras", "device"}
        assert (out / name / "report.html").is_file()
    assert (out / "index.html").is_file()
    rows = list(csv.reader((out / "grades.csv").open()))
    assert [row[0] for row in rows] == ["id", "bob", "carol"]
    suites = ElementTree.parse(out / "junit.xml").getroot().findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["bob", "carol"]


def test_a_grader_failure_on_one_submission_still_leaves_results_for_all_and_exits_1(tmp_path, monkeypatch):
    import grader.grading as grading

    def broken(submission, *args, **kwargs):
        raise KeyError("layers")

    monkeypatch.setattr(grading, "grade_submission", broken)
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "dave.ipynb").write_text("{}")
    out = tmp_path / "out"
    assert main(["grade", str(folder), "--exercise", "fashion_cnn", "--out", str(out)]) == 1
    results = json.loads((out / "dave" / "results.json").read_text())
    codes = {d["code"] for t in results["tests"] for d in t["extra_data"]["diagnoses"]}
    assert codes == {"grader_error"} and results["score"] == 0
