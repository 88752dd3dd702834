"""The HTML views (grader/report/html.py, templates/): the per-submission page and the class summary.

Results are hand-made, mirroring real cases of the example submissions: the fashion_cnn CNN with an
extra `Dense(64)` (its layer table recomputed by the architecture check from a hand-written config),
the cnn_transfer loop that pools a 32x32 map to nothing, a reshape whose failure other cells inherit,
and a hostile submission. Assertions parse the HTML and name codes, numbers and elements, not prose.
No TensorFlow, no kernel.
"""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

import configs
from grader.checks.accuracy import reference_band
from grader.checks.architecture import check_architecture
from grader.checks.models import FoundModel
from grader.data import FASHION_CLASSES
from grader.diagnoses import diagnose, where_in_cell
from grader.exercises import load_spec
from grader.layers import table_from_config
from grader.report.feedback import hidden_note
from grader.report.html import render_report, render_summary, write_report, write_summary
from grader.resources import expected_dir
from grader.results import CheckResult, Outcome, SubmissionResult

REPOSITORY = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
EXTRA_DENSE = REPOSITORY / "examples/submissions/fashion_cnn/layer_extra+param_mismatch--failed--extra_dense_64.ipynb"
VERSIONS = {"cnngrader": "0.1.0", "python": "3.13.5", "tensorflow": "2.21.0", "keras": "3.13.1",
            "device": "CPU", "exercise": "fashion_cnn", "expected_sha256": "9f2c4e1b7a3d"}


# --- Hand-made results mirroring real cases --------------------------------------------------

def make_check(check_id: str, name: str, outcome: Outcome, score: float, points: float, diagnoses=(),
               data=None, visibility: str = "visible", summary: str = "", model: str | None = None) -> CheckResult:
    return CheckResult(check_id, name, outcome, score, points, visibility, summary, tuple(diagnoses),
                       data or {}, model)


def notebook_sources(path: Path) -> dict[int, str]:
    """Code cell number (1-based) -> source, as the runner numbers them."""
    cells = [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
    return {number: "".join(cell["source"]) for number, cell in enumerate(cells, 1)}


def fashion_expected() -> dict:
    return json.loads((expected_dir() / "fashion_cnn.json").read_text())


def extra_dense_architecture() -> CheckResult:
    """The architecture check itself on the example's model: Dense(64) added after the dropout."""
    spec = load_spec("fashion_cnn")
    layers = configs.fashion_cnn_layers()
    layers[-1] = configs.dense("dense_2", 10, activation="softmax")
    layers.insert(7, configs.dense("dense_1", 64, activation="relu"))
    config = configs.sequential(layers, (28, 28, 1))
    record = configs.record(1, config, ("model",), cell=2)
    found = FoundModel(record, table_from_config("Sequential", config), 1.0)
    check = next(check for check in spec.checks if check.id == "architecture")
    source = notebook_sources(EXTRA_DENSE)[2]
    result = check_architecture(check, spec.model("cnn"), fashion_expected()["models"]["cnn"], found,
                                cell_source=source)
    return replace(result, model="cnn")


def fashion_predictions(count: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of an under-trained CNN: shirts, pullovers and coats confused."""
    labels = np.arange(count) % 10
    predicted = labels.copy()
    rng = np.random.default_rng(7)
    for true, wrong, share in ((6, 0, 0.45), (2, 4, 0.4), (4, 2, 0.35), (0, 6, 0.25), (4, 6, 0.15), (9, 7, 0.12),
                               (5, 7, 0.1), (7, 9, 0.1), (3, 0, 0.1)):
        rows = np.flatnonzero(labels == true)
        picked = rows[rng.random(len(rows)) < share]
        predicted[picked] = wrong
    return labels, predicted


def accuracy_data(labels: np.ndarray, predicted: np.ndarray, images: str) -> dict:
    expected = fashion_expected()
    metric = "cnn.test_accuracy"
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (labels, predicted), 1)
    wrong, shown, seen = np.flatnonzero(predicted != labels), [], set()
    for index in wrong:
        if int(labels[index]) not in seen and len(shown) < 8:
            seen.add(int(labels[index]))
            shown.append({"index": int(index), "label": int(labels[index]), "predicted": int(predicted[index])})
    summary = expected["metrics"][metric]
    return {"accuracy": round(float((labels == predicted).mean()), 4), **expected["thresholds"][metric],
            "metric": metric, "band": reference_band(expected, metric),
            "reference": {key: summary[key] for key in ("min", "mean", "max")}, "images": images,
            "model_id": 1, "artifact": None,
            "confusion": {"classes": list(FASHION_CLASSES), "matrix": matrix.tolist()},
            "misclassified": shown,
            "curves": [{"fit": 1, "cell": 3, "history": {"loss": [0.92, 0.61], "accuracy": [0.66, 0.77],
                                                         "val_loss": [0.66, 0.58], "val_accuracy": [0.75, 0.79]}}]}


def accuracy_check(data: dict) -> CheckResult:
    value = data["accuracy"]
    diagnosis = diagnose("accuracy_below_threshold", model="the Fashion-MNIST CNN", value=f"{value:.3f}",
                         pass_mark=f"{data['pass']:.3f}", floor=f"{data['floor']:.3f}", band=data["band"],
                         images=data["images"])
    fraction = (value - data["floor"]) / (data["pass"] - data["floor"])
    return make_check("accuracy", "Accuracy of the CNN (measured by the grader)", Outcome.FAILED,
                      round(6 * min(max(fraction, 0), 1), 4), 6, [diagnosis], data, "after_due_date",
                      f"The Fashion-MNIST CNN scores {value:.3f}, below the pass mark {data['pass']:.3f}.", "cnn")


def fashion_extra_dense(labels=None, predicted=None) -> SubmissionResult:
    """layer_extra+param_mismatch--failed--extra_dense_64, graded in full mode."""
    if labels is None:
        labels, predicted = fashion_predictions()
    path = EXTRA_DENSE
    checks = (
        make_check("execution", "Notebook runs", Outcome.PASSED, 1, 1, summary="All 7 code cells ran."),
        extra_dense_architecture(),
        make_check("pooling", "Feature maps keep a size", Outcome.PASSED, 1, 1,
                   summary="Traced 3 model(s) with convolutions or pooling: every feature map keeps a size."),
        make_check("training_setup", "Training set-up (callbacks)", Outcome.PASSED, 1, 1, model="cnn",
                   summary="`fit` in cell 3 uses EarlyStopping and ModelCheckpoint as asked."),
        make_check("reload", "The best model is reloaded", Outcome.PASSED, 1, 1, model="cnn",
                   summary="best-cnn-model.keras is reloaded in cell 6 and holds the trained model."),
        make_check("feature_maps", "Feature maps of the first convolutions", Outcome.PASSED, 1, 1, model="cnn",
                   summary="Cell 7 builds models returning the maps of layers 0 and 2."),
        accuracy_check(accuracy_data(labels, predicted, "the Fashion-MNIST test set (2,000 images)")),
    )
    return SubmissionResult("layer_extra+param_mismatch--failed--extra_dense_64", "fashion_cnn", "notebook", checks,
                            "full", {"seconds": 84.2, "versions": VERSIONS, "peak_memory_mb": 1840},
                            notebook_sources(path))


def transfer_pooling_collapse() -> SubmissionResult:
    """pooling_collapse--error--strided_with_pool_in_every_block (cnn_transfer): cell 3 fails."""
    path = REPOSITORY / "examples/submissions/cnn_transfer/pooling_collapse--error--strided_with_pool_in_every_block.ipynb"
    table = table_from_config("Sequential", configs.sequential(configs.strided_layers(pool=True, classes=4), (32, 32, 3)))
    step = table.collapse
    steps = table.trace[: table.trace.index(step) + 1]
    text = " ".join([f"{steps[0].size_in[0]}x{steps[0].size_in[1]}"]
                    + [f"-{s.layer}-> {s.size_out[0]}x{s.size_out[1]}" for s in steps])
    fields = dict(layer=step.layer, class_name=step.class_name, size_in="1x1", window="2x2", size_out="0x0", trace=text)
    error = ("ValueError: Computed output size would be zero or negative. Received: "
             "inputs.shape=(None, 1, 1, 64), pool_size=(2, 2), strides=(2, 2)")
    execution = replace(diagnose("pooling_collapse", cell=3, line=7, detail=error, where=where_in_cell(3, 7),
                                 **fields), consequences=(4, 5))
    pooling = diagnose("pooling_collapse", cell=3, **fields)
    trace = {"model_id": 2, "cell": 3, "collapse": step.layer,
             "steps": [{"layer": s.layer, "class_name": s.class_name, "size_in": list(s.size_in),
                        "window": list(s.window), "size_out": list(s.size_out)} for s in steps]}
    checks = (
        make_check("execution", "Notebook runs", Outcome.FAILED, 0, 1, [execution],
                   summary="1 cell failed; 2 more failed because of it."),
        make_check("architecture", "Architecture of the strided CNN", Outcome.ERROR, 0, 1, model="strided",
                   summary="Not judged: the strided CNN was not built, because cell 3 failed "
                           "(see the diagnosis under the execution check)."),
        make_check("pooling", "Feature maps keep a size", Outcome.FAILED, 0, 1, [pooling], {"traces": [trace]},
                   summary="1 model(s) shrink a feature map to nothing."),
        make_check("transfer", "Transfer learning to the fine classes", Outcome.SKIPPED, 0, 6,
                   summary="Skipped: the extractor was not trained."),
    )
    return SubmissionResult("pooling_collapse--error--strided_with_pool_in_every_block", "cnn_transfer",
                            "notebook", checks, "quick",
                            {"seconds": 21.7, "versions": {**VERSIONS, "exercise": "cnn_transfer"}},
                            notebook_sources(path))


def reshape_consequences() -> SubmissionResult:
    """A learner's `reshape(60000, 784)` fails in cell 2; cells 3, 5 and 7 fail only because of it."""
    root = replace(diagnose("hard_coded_count", cell=2, line=2, where=where_in_cell(2, 2), count=60000,
                            size=6272000, rest="784",
                            detail="ValueError: cannot reshape array of size 6272000 into shape (60000,784)"),
                   consequences=(3, 5, 7))
    checks = (
        make_check("execution", "Notebook runs", Outcome.FAILED, 0, 1, [root],
                   summary="1 cell failed; 3 more failed because of it."),
        make_check("architecture", "Architecture of the CNN", Outcome.ERROR, 0, 4, model="cnn",
                   summary="Not judged: the Fashion-MNIST CNN was not built, because cell 3 failed."),
        make_check("accuracy", "Accuracy of the CNN (measured by the grader)", Outcome.SKIPPED, 0, 6,
                   visibility="after_due_date", model="cnn", summary="Skipped in the quick self-check."),
        make_check("comparison", "Models rank as expected", Outcome.ERROR, 0, 2, visibility="after_published",
                   diagnoses=[diagnose("not_evaluated", what="the dense baseline")],
                   summary="Not graded: the evaluation returned nothing."),
    )
    sources = {"2": "(x, y), (tx, ty) = data\nx = x.reshape(60000, 784)\ntx = tx.reshape(10000, 784)\n"}
    return SubmissionResult("reshape_60000", "fashion_cnn", "notebook", checks, "quick",
                            {"seconds": 9.5, "versions": VERSIONS}, sources)


def clean_pass() -> SubmissionResult:
    checks = (make_check("execution", "Notebook runs", Outcome.PASSED, 1, 1),
              make_check("architecture", "Architecture of the CNN", Outcome.PASSED, 4, 4, model="cnn"),
              make_check("pooling", "Feature maps keep a size", Outcome.PASSED, 1, 1))
    return SubmissionResult("clean--passed--correct", "fashion_cnn", "notebook", checks, "quick", {"seconds": 12.0})


def hostile(name: str = f"{SCRIPT}{IMAGE}") -> SubmissionResult:
    """Everything the student wrote carries markup: the name, the code, the error, the layer names.
    (A name from a file or folder holds no '/': the browser test writes it to disk without one.)"""
    source = f"x = '{SCRIPT}'\nmodel.add(Dense(10, name='{IMAGE}'))\nraise ValueError('{IMAGE}')\n"
    error = diagnose("runtime_error", cell=1, line=3, where=where_in_cell(1, 3), ename="ValueError",
                     evalue=IMAGE, detail=f"ValueError: {SCRIPT} {IMAGE}")
    layer_diagnosis = diagnose("layer_extra", layer=IMAGE, class_name="Dense")
    row = {"name": IMAGE, "class_name": SCRIPT, "output_shape": [None, 10], "params": 10, "trainable_params": 10,
           "settings": {"activation": SCRIPT}}
    architecture = make_check("architecture", "Architecture of the CNN", Outcome.FAILED, 0, 4, [layer_diagnosis],
                              {"model_id": 1, "cell": 1, "rows": [{"expected": None, "actual": row}]},
                              summary=f"The CNN (`{SCRIPT}`): 1 problem(s).", model="cnn")
    collapse = diagnose("pooling_collapse", cell=1, layer=SCRIPT, class_name="MaxPooling2D", size_in="1x1",
                        window="2x2", size_out="0x0", trace=f"2x2 -{SCRIPT}-> 1x1")
    trace = {"model_id": 1, "cell": 1, "collapse": SCRIPT, "steps": [
        {"layer": IMAGE, "class_name": "Conv2D", "size_in": [2, 2], "window": [2, 2], "size_out": [1, 1]},
        {"layer": SCRIPT, "class_name": "MaxPooling2D", "size_in": [1, 1], "window": [2, 2], "size_out": [0, 0]}]}
    checks = (make_check("execution", "Notebook runs", Outcome.FAILED, 0, 1, [error]),
              architecture,
              make_check("pooling", "Feature maps keep a size", Outcome.FAILED, 0, 1, [collapse], {"traces": [trace]}))
    return SubmissionResult(name, "fashion_cnn", "notebook", checks, "quick",
                            {"seconds": 1.0, "note": SCRIPT}, {1: source})


def evaluation_images(count: int = 2000) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, 28, 28), dtype=np.uint8)


RUN = {"exercise": "fashion_cnn", "title": "A convolutional network for Fashion-MNIST", "mode": "full",
       "versions": VERSIONS, "seconds": 127.4, "started": "2025-05-12T09:30:00+00:00"}


# --- Parsing ---------------------------------------------------------------------------------

class Page(HTMLParser):
    """The page as a tree: every element with its attributes, children and text; scripts apart."""

    VOID = {"img", "br", "meta", "input", "link", "hr", "source", "wbr"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self.open: list[dict] = []
        self.text_parts: list[str] = []
        self.scripts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": [], "parent": self.open[-1] if self.open else None}
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        if any(element["tag"] == tag for element in self.open):
            while self.open.pop()["tag"] != tag:
                pass

    def handle_data(self, data):
        if self.open and self.open[-1]["tag"] == "script":
            self.scripts.append(data)
            return
        if self.open and self.open[-1]["tag"] == "style":
            return
        self.text_parts.append(data)
        for element in self.open:
            element["text"].append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def find(self, tag: str | None = None, within: dict | None = None, **attrs) -> list[dict]:
        """Elements by tag and attributes (`class_="x"`: has class x; `data_code=True`: has the
        attribute), optionally only those inside `within`."""
        found = []
        for element in self.elements:
            if tag is not None and element["tag"] != tag:
                continue
            if within is not None and not self.is_inside(element, within):
                continue
            if all(_has(element["attrs"].get(key.rstrip("_").replace("_", "-")), value) for key, value in attrs.items()):
                found.append(element)
        return found

    @staticmethod
    def is_inside(element: dict, container: dict) -> bool:
        parent = element["parent"]
        while parent is not None:
            if parent is container:
                return True
            parent = parent["parent"]
        return False

    @staticmethod
    def text_of(element: dict) -> str:
        return " ".join(" ".join(element["text"]).split())


def _has(actual, wanted) -> bool:
    if actual is None:
        return False
    if wanted is True:
        return True
    return wanted in actual.split() if isinstance(wanted, str) and " " not in wanted else actual == wanted


# --- The submission's page -------------------------------------------------------------------

def four_outcomes() -> SubmissionResult:
    checks = tuple(make_check(f"check_{outcome.value}", f"Check {outcome.value}", outcome, score, 2)
                   for outcome, score in ((Outcome.PASSED, 2), (Outcome.FAILED, 0.5), (Outcome.ERROR, 0),
                                          (Outcome.SKIPPED, 0)))
    return SubmissionResult("four", "fashion_cnn", "notebook", checks, "quick")


def test_the_score_and_every_outcome_are_told_apart_in_words():
    page = Page(render_report(four_outcomes()))
    assert page.text_of(page.find(id="score")[0]) == "2.5 / 8 points"
    rows = page.find("tr", data_check=True)
    assert [row["attrs"]["data-outcome"] for row in rows] == ["passed", "failed", "error", "skipped"]
    words = [page.text_of(page.find("span", class_="badge", within=row)[0]) for row in rows]
    assert words == ["✓ passed", "✗ failed", "! not judged", "– skipped"]
    classes = [page.find("span", class_="badge", within=row)[0]["attrs"]["class"] for row in rows]
    assert len(set(classes)) == 4
    counts = [page.text_of(element) for element in page.find("span", class_="badge", within=page.find(id="counts")[0])]
    assert counts == ["✓ 1 passed", "✗ 1 failed", "! 1 not judged", "– 1 skipped"]


def test_the_first_thing_to_fix_comes_before_the_checks():
    result = fashion_extra_dense()
    text = render_report(result)
    page = Page(text)
    first = page.find(id="first-fix")[0]
    first_text = page.text_of(first)
    extra = result.checks[1].diagnoses[0]
    assert extra.code == "layer_extra"
    assert extra.message in first_text and extra.hint in first_text
    assert text.index('id="first-fix"') < text.index('id="glance"') < text.index('id="check-1"')
    # It points at the line of the cell that adds the extra layer, which it shows marked.
    marked = [element for element in page.find("span", class_="marked")]
    assert "Dense(64" in page.text_of(marked[0])
    assert "Cell 2, line 11" in first_text


def test_every_student_diagnosis_shows_message_hint_and_where():
    result = fashion_extra_dense()
    page = Page(render_report(result))
    cards = page.find("article", class_="diagnosis")
    codes = [card["attrs"]["data-code"] for card in cards]
    assert codes == ["layer_extra", "param_mismatch", "accuracy_below_threshold"]
    for card, diagnosis in zip(cards, [d for check in result.checks for d in check.diagnoses]):
        assert diagnosis.message in page.text_of(card) and diagnosis.hint in page.text_of(card)
    layers = [page.text_of(element) for element in page.find(data_where="layer")]
    assert "layer dense_1" in layers and "layer dense_2" in layers


def test_the_layer_table_marks_the_extra_row_and_the_differing_count():
    page = Page(render_report(fashion_extra_dense()))
    rows = page.find("tr", data_status=True)
    statuses = [row["attrs"]["data-status"] for row in rows]
    assert statuses == ["same"] * 7 + ["extra", "differs"]
    extra, last = rows[7], rows[8]
    assert "dense_1" in page.text_of(extra) and "not expected" in page.text_of(extra)
    differing = [element for element in page.find(data_field="params") if "diff" in element["attrs"]["class"].split()]
    assert [page.text_of(element) for element in differing] == ["1,010", "650"]
    assert "layer_extra" in page.text_of(extra) and "param_mismatch" in page.text_of(last)
    totals = page.text_of(page.find("tfoot")[0])
    assert "333,526" in totals and "339,630" in totals


def test_a_missing_layer_and_a_differing_setting_are_marked():
    expected = {"name": "dropout", "class_name": "Dropout", "output_shape": [None, 100], "params": 0,
                "settings": {"rate": 0.4}}
    same_class = {"name": "dropout", "class_name": "Dropout", "output_shape": [None, 100], "params": 0,
                  "settings": {"rate": 0.5}}
    data = {"model_id": 1, "cell": None, "rows": [{"expected": expected, "actual": same_class},
                                                  {"expected": expected, "actual": None}]}
    check = make_check("architecture", "Architecture of the CNN", Outcome.FAILED, 2, 4, [
        diagnose("setting_mismatch", layer="dropout", subject="Layer `dropout`", setting="rate", actual=0.5,
                 expected=0.4, target="`dropout`"),
        diagnose("layer_missing", class_name="Dropout", position="after `dense`", suggestion="Dropout(0.4)")], data)
    page = Page(render_report(SubmissionResult("s", "fashion_cnn", "notebook", (check,))))
    assert [row["attrs"]["data-status"] for row in page.find("tr", data_status=True)] == ["differs", "missing"]
    marked = [page.text_of(element) for element in page.find("mark", data_field="setting")]
    assert marked == ["rate=0.4", "rate=0.5"]
    assert "missing" in page.text_of(page.find("tr", data_status="missing")[0])


def test_the_pooling_trace_is_drawn_and_listed_up_to_the_collapse():
    page = Page(render_report(transfer_pooling_collapse()))
    trace = page.find("div", class_="trace")[0]
    assert trace["attrs"]["data-collapse"] == "max_pooling2d_2"
    plots = [element for element in page.find("img", class_="plot") if "Map size per layer" in element["attrs"]["alt"]]
    assert len(plots) == 1 and plots[0]["attrs"]["src"].startswith("data:image/png;base64,")
    collapsed = page.find("tr", class_="collapsed")
    assert len(collapsed) == 1 and "max_pooling2d_2" in page.text_of(collapsed[0])
    # The execution check's diagnosis came from the error message, with the cells that failed
    # because of it; the pooling check's is drawn beside its own.
    execution = page.find("section", id="check-0")[0]
    assert not page.find("div", class_="trace", within=execution)
    assert "-max_pooling2d_2-> 0x0" in page.text_of(page.find("p", class_="message", within=execution)[0])
    assert page.find("p", class_="consequence", data_consequences="4 5", within=execution)


def test_a_collapse_without_a_structured_trace_shows_its_text():
    diagnosis = diagnose("pooling_collapse", cell=4, layer="max_pooling2d_3", class_name="MaxPooling2D",
                         size_in="1x1", window="2x2", size_out="0x0", trace="not known")
    check = make_check("execution", "Notebook runs", Outcome.FAILED, 0, 1, [diagnosis])
    page = Page(render_report(SubmissionResult("s", "cnn_transfer", "notebook", (check,))))
    assert not page.find("div", class_="trace") and not page.find("img", class_="plot")
    message = page.text_of(page.find("p", class_="message")[0])
    assert "max_pooling2d_3" in message and "not known" in message


def test_accuracy_views_scale_confusion_images_and_reported_curves():
    labels, predicted = fashion_predictions()
    result = fashion_extra_dense(labels, predicted)
    images = evaluation_images()
    page = Page(render_report(result, images))
    data = result.checks[-1].data
    assert page.text_of(page.find(id="check-6-accuracy")[0]) == f"{data['accuracy']:.3f}"
    assert any("pass mark" in element["attrs"]["alt"] for element in page.find("img", class_="plot"))
    matrix = page.find("table", class_="confusion")[0]
    cells = page.find("td", within=matrix)
    assert [int(page.text_of(cell)) for cell in cells] == [count for row in data["confusion"]["matrix"] for count in row]
    figures = page.find("figure", data_index=True)
    assert [int(figure["attrs"]["data-index"]) for figure in figures] == [m["index"] for m in data["misclassified"]]
    thumbnails = [element for element in page.find("img") if element["attrs"].get("alt", "").startswith("test image")]
    assert len(thumbnails) == len(figures)
    shirt = next(figure for figure in figures if int(figure["attrs"]["data-index"]) % 10 == 6)
    assert "true: shirt" in page.text_of(shirt) and "predicted: t-shirt/top" in page.text_of(shirt)
    curves = page.find(id="check-6-curves")[0]
    assert "As reported by the notebook" in page.text_of(curves)
    assert any("Learning curves of fit 1" in element["attrs"]["alt"] for element in page.find("img"))


def test_without_images_the_page_has_no_thumbnails():
    page = Page(render_report(fashion_extra_dense()))
    assert page.find("figure", data_index=True)
    assert not [element for element in page.find("img") if element["attrs"].get("alt", "").startswith("test image")]


def test_views_render_what_there_is():
    data = {"accuracy": 0.5}
    check = make_check("accuracy", "Accuracy", Outcome.FAILED, 0, 6, data=data)
    page = Page(render_report(SubmissionResult("s", "fashion_cnn", "notebook", (check,))))
    assert page.text_of(page.find(id="check-0-accuracy")[0]) == "0.500"
    assert not page.find("table", class_="confusion") and not page.find("div", class_="reported")


def test_consequences_and_the_instructor_section():
    result = reshape_consequences()
    page = Page(render_report(result))
    root = result.checks[0].diagnoses[0]
    consequence = page.find("p", class_="consequence", data_consequences="3 5 7")
    assert consequence and root.consequence_note in page.text_of(consequence[0])
    assert page.text_of(page.find("span", class_="marked")[0]).endswith("x = x.reshape(60000, 784)")
    instructor = page.find("section", id="instructor")[0]
    assert [element["attrs"]["data-code"] for element in page.find("article", within=instructor)] == ["not_evaluated"]
    student = [element for element in page.find("article") if not page.is_inside(element, instructor)]
    assert [element["attrs"]["data-code"] for element in student] == ["hard_coded_count"]
    versions = page.text_of(page.find(id="versions")[0])
    assert "tensorflow 2.21.0" in versions and "expected_sha256 9f2c4e1b7a3d" in versions


def test_checks_students_do_not_see_yet_carry_a_badge():
    result = reshape_consequences()
    page = Page(render_report(result))
    badges = {element["attrs"]["data-visibility"] for element in page.find("span", class_="vis")}
    assert badges == {"after_due_date", "after_published"}
    assert page.text_of(page.find(id="hidden-note")[0]) == hidden_note(result)


def test_everything_the_student_wrote_is_escaped(tmp_path):
    text = write_report(hostile(), tmp_path / "hostile").read_text()
    page = Page(text)
    assert page.scripts == []
    assert not page.find("script") and not [element for element in page.find("img") if element["attrs"].get("src") == "x"]
    assert not any("onerror" in element["attrs"] for element in page.elements)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert SCRIPT not in text and IMAGE not in text
    visible = page.text
    assert visible.count(SCRIPT) >= 5 and visible.count(IMAGE) >= 4  # name, code, error, table, trace
    assert f"{SCRIPT}{IMAGE}" in page.text_of(page.find("h1")[0])


def test_the_page_is_standalone_and_small(tmp_path):
    text = write_report(fashion_extra_dense(), tmp_path, evaluation_images()).read_text()
    page = Page(text)
    assert len(text.encode()) < 400_000
    sources = [element["attrs"].get("src") or element["attrs"].get("href") for element in page.elements]
    external = [value for value in sources if value and not value.startswith(("data:", "#"))]
    assert external == []
    assert page.scripts == [] and not page.find("svg")
    assert all(element["attrs"]["src"].startswith("data:image/png;base64,") for element in page.find("img"))


def test_sources_keyed_by_strings_as_json_gives_them():
    result = reshape_consequences()
    assert "2" in result.sources
    page = Page(render_report(result))
    assert page.find("figure", class_="source", data_cell="2")


@pytest.mark.parametrize("shape", [(40, 28, 28), (40, 28, 28, 1), (40, 32, 32, 3)])
def test_thumbnails_of_every_image_shape_and_numpy_indices(shape):
    images = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    data = {"accuracy": 0.5, "confusion": {"classes": ["a", "b"], "matrix": [[3, 1], [2, 4]]},
            "misclassified": [{"index": np.int64(3), "label": np.int64(0), "predicted": 1},
                              {"index": 99, "label": 1, "predicted": 0}]}
    check = make_check("accuracy", "Accuracy", Outcome.FAILED, 0, 6, data=data)
    page = Page(render_report(SubmissionResult("s", "cnn_transfer", "notebook", (check,)), images))
    thumbnails = [element for element in page.find("img") if element["attrs"].get("alt", "").startswith("test image")]
    assert [element["attrs"]["alt"] for element in thumbnails] == ["test image 3"]  # 99 is out of range
    assert "true: a" in page.text_of(page.find("figure", data_index="3")[0])


# --- The class summary -----------------------------------------------------------------------

def summary_results() -> list[SubmissionResult]:
    return [fashion_extra_dense(), reshape_consequences(), clean_pass(), hostile()]


def test_the_summary_counts_and_links(tmp_path):
    results = summary_results()
    path = write_summary(results, tmp_path, RUN)
    assert path == tmp_path / "index.html"
    page = Page(path.read_text())
    assert page.text_of(page.find(id="count")[0]) == "4"
    hrefs = [element["attrs"]["href"] for element in page.find("a")
             if element["attrs"].get("href", "").endswith("report.html")]
    for result in results:
        assert quote(result.submission, safe="") + "/report.html" in hrefs
    assert "%3Cscript%3E" in " ".join(hrefs) and not any("<" in href for href in hrefs)
    execution = page.find("tr", data_check="execution")[0]
    counts = {cell["attrs"]["data-outcome"]: int(page.text_of(cell))
              for cell in page.find("td", within=execution, data_outcome=True)}
    assert counts == {"passed": 2, "failed": 2, "error": 0, "skipped": 0}
    assert "50%" in page.text_of(execution)
    frequent = {row["attrs"]["data-code"]: row for row in page.find("tr", data_code=True)}
    assert set(frequent) == {"layer_extra", "param_mismatch", "accuracy_below_threshold", "hard_coded_count",
                             "not_evaluated", "runtime_error", "pooling_collapse"}
    extra = frequent["layer_extra"]
    assert page.text_of(page.find("td", within=extra, data_count=True)[0]) == "2"
    links = [cell["attrs"]["href"] for cell in page.find("a", within=extra)]
    assert links == [quote(results[index].submission, safe="") + "/report.html" for index in (0, 3)]
    assert "Extra layer" in page.text_of(extra)


def test_the_summary_table_histogram_versions_and_timings():
    page = Page(render_summary(summary_results(), RUN))
    table = page.find("table", id="submission-table")[0]
    assert len(page.find("tr", within=table)) == 1 + 4
    assert page.find("img", id="histogram")[0]["attrs"]["src"].startswith("data:image/png;base64,")
    assert "tensorflow 2.21.0" in page.text_of(page.find(id="versions")[0])
    assert page.text_of(page.find(id="total-seconds")[0]) == "127.4 s"
    assert "84.2" in page.text_of(table)
    assert len(page.scripts) == 1 and "sort" in page.scripts[0]
    assert SCRIPT not in render_summary(summary_results(), RUN).replace(page.scripts[0], "")


def test_a_run_record_without_keys_shows_not_recorded():
    page = Page(render_summary([clean_pass()], {}))
    text = page.text
    assert "not recorded" in page.text_of(page.find(id="total-seconds")[0])
    assert text.count("not recorded") >= 7 + 3


def test_an_empty_class_renders():
    page = Page(render_summary([], RUN))
    assert page.text_of(page.find(id="count")[0]) == "0"


ISOLATION = {"level": "jail", "user": "uid 61000", "network": "off (network namespace)",
             "processes": "pid namespace, at most 256", "memory": "cgroup v1 memory.limit_in_bytes 2.5 GB",
             "files": "1 GB per file, 4 GB in all"}


def test_the_instructor_section_says_how_the_run_was_isolated():
    result = replace(four_outcomes(), meta={"isolation": {**ISOLATION, "note": SCRIPT}})
    text = render_report(result)
    page = Page(text)
    (table,) = page.find("table", id="isolation")
    assert page.is_inside(table, page.find("section", id="instructor")[0])
    rows = [[page.text_of(cell) for cell in page.find("td", within=row)] for row in page.find("tr", within=table)]
    assert rows == [[key, value] for key, value in {**ISOLATION, "note": SCRIPT}.items()]
    assert "How this run was isolated" in page.text
    assert SCRIPT not in text and "&lt;script&gt;" in text
    assert [element["attrs"].get("id") for element in page.find("table", class_="meta")] == ["versions", "isolation"]


@pytest.mark.parametrize("isolation", [None, "jail", ["level", "jail"]])
def test_without_an_isolation_record_the_page_shows_no_such_table(isolation):
    meta = {} if isolation is None else {"isolation": isolation}
    page = Page(render_report(replace(four_outcomes(), meta=meta)))
    assert not page.find("table", id="isolation") and "How this run was isolated" not in page.text
