"""Malformed notebooks are refused in plain words, without a kernel (layer 1).

The same files are graded in the adversarial batch (test_adversarial.py), where each must end
as `invalid_notebook`; here only `read_notebook` runs, in milliseconds. Two are odd but readable:
a UTF-8 byte-order mark, and 15 MB of stored outputs (dropped before running).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import make_cases
from grader.runner.notebook import read_notebook

CASES = Path(__file__).resolve().parent / "cases"
NAMES = sorted([*make_cases.MALFORMED, *make_cases.GENERATED])


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    return make_cases.write_generated(tmp_path_factory.mktemp("malformed"))


def path_of(name: str, generated: dict[str, Path]) -> Path:
    return generated.get(name) or CASES / f"{name}.ipynb"


def is_plain_sentence(text: str) -> bool:
    """One short printable line in words, ready to follow "cannot be read as a notebook: ":
    no traceback, no exception repr, no bytes of the file, no final full stop (the message adds it)."""
    return (isinstance(text, str) and 10 <= len(text) <= 300 and text.isprintable()
            and not text.endswith(".") and " " in text
            and not any(marker in text for marker in ("Traceback", "File \"", "<class", "Error(", "b'", "\ufeff")))


@pytest.mark.parametrize("name", NAMES)
def test_a_malformed_notebook_is_refused_in_a_plain_sentence(name, generated):
    notebook, reason = read_notebook(path_of(name, generated))
    if name in make_cases.READABLE_MALFORMED:
        assert reason is None and notebook is not None, reason
        assert [cell.source for cell in notebook.cells if cell.cell_type == "code"] == ["answer = 42"]
    else:
        assert notebook is None and is_plain_sentence(reason), repr(reason)


def test_the_committed_malformed_files_are_the_generators():
    for name, raw in make_cases.MALFORMED.items():
        assert (CASES / f"{name}.ipynb").read_bytes() == raw, f"{name}: run tests/adversarial/make_cases.py"


def test_the_huge_notebook_is_under_the_reading_limit_and_over_ten_megabytes(generated):
    from grader.runner.notebook import MAX_NOTEBOOK_BYTES

    size = generated["malformed_huge_outputs"].stat().st_size
    assert 10 * 2**20 < size < MAX_NOTEBOOK_BYTES
