"""The HTML views as a person sees them: rendered in headless Chromium (Debian's `chromium`, which
scripts/install.sh installs), with assertions on what is visible.

Missing Chromium fails the test (the install script provides it) unless CNNGRADER_NO_BROWSER is
set. Screenshots go to the test's tmp_path and, when CNNGRADER_SCREENSHOTS names a folder, there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.data import load_fashion_mnist
from grader.report.html import write_report, write_summary
from grader.results import max_score, total_score
from test_html_report import (IMAGE, RUN, SCRIPT, clean_pass, fashion_extra_dense, fashion_predictions, hostile,
                              reshape_consequences, transfer_pooling_collapse)

pytestmark = pytest.mark.slow
HOSTILE_NAME = f"{IMAGE}<script>alert(1)"
"""A file name holds no '/', so this is as much markup as a submission's name can carry."""

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("CNNGRADER_NO_BROWSER"):
        pytest.skip("CNNGRADER_NO_BROWSER is set")
    executable = shutil.which("chromium")
    if not executable:
        pytest.fail("chromium is not installed: run scripts/install.sh (or set CNNGRADER_NO_BROWSER to skip)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """A graded folder as `cnngrader grade` writes it: one page per submission and the summary."""
    out = tmp_path_factory.mktemp("graded")
    images = _test_images()
    labels, predicted = fashion_predictions(len(images))
    results = [fashion_extra_dense(labels, predicted), reshape_consequences(), clean_pass(), hostile(HOSTILE_NAME)]
    for result in results + [transfer_pooling_collapse()]:
        write_report(result, out / result.submission, images)
    write_summary(results, out, RUN)
    return out


def _test_images(count: int = 2000) -> np.ndarray:
    """Fashion-MNIST test images ordered so that image i has label i % 10, as the hand-made
    predictions assume; random pixels where the data set is not installed."""
    try:
        (_, _), (images, labels) = load_fashion_mnist(download=False)
    except Exception:  # the data set is optional here: the views need only some pixels
        return np.random.default_rng(0).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    order = np.stack([np.flatnonzero(labels == label)[: count // 10] for label in range(10)], axis=1).reshape(-1)
    assert (labels[order] == np.arange(count) % 10).all()
    return images[order]


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, dialogs


def screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    folder = os.environ.get("CNNGRADER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def broken_images(page) -> list[str]:
    return page.evaluate("""() => Array.from(document.images)
        .filter(image => !image.complete || image.naturalWidth === 0).map(image => image.alt)""")


def test_a_failing_submission_shows_its_score_and_first_fix(browser, graded, tmp_path):
    result = fashion_extra_dense()
    page, dialogs = open_page(browser, graded / result.submission / "report.html")
    try:
        assert page.locator("#score").inner_text() == f"{total_score(result):g} / {max_score(result):g} points"
        first = page.locator("#first-fix")
        assert first.is_visible()
        extra = result.checks[1].diagnoses[0]
        text = first.inner_text()
        assert extra.message in text and extra.hint in text and "Cell 2, line 11" in text
        box = first.bounding_box()
        assert box["y"] < 900, "the first thing to fix is on the first screen"
        assert page.locator("#check-1 article[data-code='param_mismatch']").is_visible()
        assert page.locator("#check-1 tr.extra").is_visible()
        assert page.locator("#check-6 table.confusion").is_visible()
        assert page.locator("#check-6 .thumbs img").count() == len(result.checks[-1].data["misclassified"])
        assert page.locator("#check-6-curves").inner_text().startswith("As reported by the notebook")
        assert page.locator("span.vis[data-visibility='after_due_date']").first.is_visible()
        assert broken_images(page) == []
        assert page.locator("img.plot").count() == 2
        screenshot(page, tmp_path, "report-extra_dense_64.png")
        assert dialogs == []
    finally:
        page.close()


def test_the_pooling_collapse_is_drawn(browser, graded, tmp_path):
    result = transfer_pooling_collapse()
    page, dialogs = open_page(browser, graded / result.submission / "report.html")
    try:
        plot = page.locator(".trace img.plot")
        assert plot.is_visible()
        assert page.evaluate("() => document.querySelector('.trace img.plot').naturalWidth") > 300
        assert "max_pooling2d_2" in page.locator(".trace tr.collapsed").inner_text()
        assert page.locator("#first-fix").inner_text().count("Cell 3, line 7") >= 1
        screenshot(page, tmp_path, "report-pooling_collapse.png")
        assert dialogs == []
    finally:
        page.close()


def test_markup_from_the_submission_stays_text(browser, graded, tmp_path):
    page, dialogs = open_page(browser, graded / HOSTILE_NAME / "report.html")
    try:
        assert page.locator("h1").inner_text() == HOSTILE_NAME
        code = page.locator("figure.source").first.inner_text()
        assert SCRIPT in code and IMAGE in code
        assert page.locator("script").count() == 0
        assert page.evaluate("() => Array.from(document.images).filter(i => i.getAttribute('src') === 'x').length") == 0
        page.wait_for_timeout(200)
        assert dialogs == []
    finally:
        page.close()


def test_the_summary_sorts_and_links(browser, graded, tmp_path):
    page, dialogs = open_page(browser, graded / "index.html")
    try:
        assert page.locator("#count").inner_text() == "4"
        assert broken_images(page) == []
        assert page.evaluate("() => document.querySelector('#histogram').naturalWidth") > 300
        names = lambda: page.locator("#submission-table tbody tr td:first-child a").all_inner_texts()  # noqa: E731
        points = lambda: [float(text.split("/")[0]) for text in  # noqa: E731
                          page.locator("#submission-table tbody tr td:nth-child(2)").all_inner_texts()]
        before = names()
        page.locator("#submission-table thead button", has_text="points").click()
        ascending = points()
        assert ascending == sorted(ascending) and names() != before
        page.locator("#submission-table thead button", has_text="points").click()
        assert points() == sorted(ascending, reverse=True)
        page.locator("#submission-table thead button", has_text="submission").click()
        assert names() == sorted(names(), key=str.lower) or names() == sorted(names())
        screenshot(page, tmp_path, "summary.png")
        link = page.locator("#submission-table a", has_text="reshape_60000")
        link.click()
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text() == "reshape_60000"
        back = graded / "index.html"
        page.goto(back.as_uri())
        page.locator("#submission-table a", has_text="alert(1)").click()
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text() == HOSTILE_NAME
        assert dialogs == []
    finally:
        page.close()
