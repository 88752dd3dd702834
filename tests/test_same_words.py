"""Same checks, same words: the terminal, the self-check (`cnngrader check` and pytest), the HTML
page, Gradescope and JUnit show the same sentences for the same evidence, and what students run
never shows a hidden check (layer 1: real checks on hand-made evidence, no kernel)."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser

import configs
from grader.evaluate import evaluate
from grader.evidence import CellError, CellRun, Evidence
from grader.exercises import load_spec
from grader.pytest_plugin import failure_lines
from grader.reference import load_expected
from grader.report.exports import junit_tree
from grader.report.feedback import check_lines, diagnosis_lines, hidden_note, student_diagnoses
from grader.report.gradescope import to_gradescope
from grader.report.html import render_report
from grader.report.terminal import render_text
from grader.results import Outcome
from grader.selfcheck import render_self_check

RESHAPE = "(x_train, y_train), _ = keras.datasets.fashion_mnist.load_data()\nx_train = x_train.reshape(60000, 28, 28, 1)\n"


def graded():
    """fashion_cnn: a hard-coded reshape in cell 2 (cell 3 fails because of it), and a CNN with
    an extra Dense(64) built in cell 4; graded quick, so the accuracy check (after the deadline) is
    skipped."""
    layers = configs.fashion_cnn_layers()
    layers[-1] = configs.dense("dense_2", 10, activation="softmax")
    layers.insert(7, configs.dense("dense_1", 64, activation="relu"))
    cells = (
        CellRun(1, "import keras\n", "ok"),
        CellRun(2, RESHAPE, "error",
                CellError("ValueError", "cannot reshape array of size 6272000 into shape (60000,28,28,1)", line=2)),
        CellRun(3, "x_small = x_train[:100]\n", "error", CellError("NameError", "name 'x_train' is not defined", line=1)),
        CellRun(4, "model = keras.Sequential([...])\n", "ok"),
    )
    record = configs.record(1, configs.sequential(layers, (28, 28, 1)), ("model",), cell=4)
    spec = load_spec("fashion_cnn")
    return evaluate(spec, load_expected(spec.reference), Evidence(kind="notebook", cells=cells, models=(record,)),
                    "<b>alice</b>", mode="quick")


class Text(HTMLParser):
    """The text a browser shows, whitespace collapsed."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)

    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts))


def shown(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def markdown_as_read(text: str) -> str:
    """Gradescope's Markdown as a student reads it: escapes undone, whitespace collapsed."""
    return shown(html.unescape(re.sub(r"\\(.)", r"\1", text)))


def student_sentences(result) -> list[str]:
    return [line.strip().removeprefix("- ") for check in result.checks for diagnosis in student_diagnoses(check)
            for line in diagnosis_lines(diagnosis)]


def test_the_evidence_gives_the_diagnoses_this_test_is_about():
    result = graded()
    codes = {check.check: [d.code for d in check.diagnoses] for check in result.checks}
    assert codes["execution"] == ["hard_coded_count"] and codes["architecture"] == ["layer_extra", "param_mismatch"]
    assert result.checks[0].diagnoses[0].consequences == (3,)
    accuracy = next(check for check in result.checks if check.check == "accuracy")
    assert accuracy.visibility == "after_due_date" and accuracy.outcome is Outcome.SKIPPED


def test_every_view_shows_the_same_sentences():
    result = graded()
    sentences = student_sentences(result)
    assert len(sentences) == 7  # three diagnoses: message and hint each, one consequence note
    page = Text()
    page.feed(render_report(result))
    gradescope = to_gradescope(result)
    junit = ElementTree.tostring(junit_tree([result]), encoding="unicode")
    views = {
        "terminal": shown(render_text(result)),
        "self-check": shown(render_self_check(result)),
        "pytest": shown("\n".join(line for check in result.checks if check.outcome is not Outcome.PASSED
                                  for line in failure_lines(check))),
        "html": page.text(),
        "gradescope": markdown_as_read("\n".join(test["output"] for test in gradescope["tests"])),
        "junit": shown(html.unescape(junit)),
    }
    for view, text in views.items():
        for sentence in sentences:
            assert shown(sentence) in text, (view, sentence)


def test_each_gradescope_test_and_junit_case_says_what_the_check_lines_say():
    result = graded()
    cases = junit_tree([result]).findall("testsuite/testcase")
    for check, test, case in zip(result.checks, to_gradescope(result)["tests"], cases):
        lines = [shown(line.strip().removeprefix("- ")) for line in check_lines(check)]
        assert all(line in markdown_as_read(test["output"]) for line in lines), check.check
        failure = next(iter(case), None)
        if failure is not None and failure.tag != "skipped":
            assert failure.text == "\n".join(check_lines(check))


def test_what_students_run_never_names_a_hidden_check_but_counts_it():
    result = graded()
    hidden = next(check for check in result.checks if check.visibility != "visible")
    text = render_self_check(result)
    assert hidden.name not in text and hidden_note(result) in text
    assert hidden_note(result) == "1 check is graded after the deadline."
