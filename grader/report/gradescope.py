"""Gradescope's results.json: the contract LMS scripts and our own tests read.

Fields as Gradescope's autograder specification defines them (score, execution_time, output,
output_format, visibility, stdout_visibility, extra_data, tests[] with name, score, max_score,
status, output, output_format, visibility, extra_data; an optional leaderboard of
{name, value, order}), plus our own `extra_data`: on each test the check id, its four-valued
outcome, its diagnoses as {code, message, hint, cell?, layer?} and, for a check that exists once
per model, the spec's model key; at the top the schema, versions and run metadata.

Outputs are Markdown (`output_format: "md"`) so that feedback renders. The words are the shared
ones of `feedback.py`; what a submission wrote (names, error text) reaches them through the
diagnoses, so every line is escaped here: markup in it shows as text, code spans stay code.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import grader

from ..results import CheckResult, Outcome, SubmissionResult, max_score, result_to_data, total_score
from .feedback import check_lines, hidden_note

SCHEMA = "cnngrader.results/1"
OUTPUT_FORMAT = "md"

# A code span as CommonMark reads one, kept to one line: block syntax on a later line (a heading,
# a quote) would end it early and leave its tail unescaped.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)([^\n]+?)(?<!`)\1(?!`)")
_INLINE_SPECIALS = re.compile(r"([\\*_\[\]~|`])")
_LINE_START = re.compile(r"^(\s*)([#>+=\-]|\d+[.)])")


def escape_markdown(text: str) -> str:
    """`text` as Markdown that renders as that text: HTML is entity-escaped, Markdown punctuation
    backslash-escaped, and block syntax at a line's start neutralised. Code spans (`like this`)
    are kept, since inside one nothing is markup; a backtick without its pair shows as itself."""
    pieces, position = [], 0
    for match in _CODE_SPAN.finditer(text):
        pieces.append(_escape_plain(text[position:match.start()]))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(_escape_plain(text[position:]))
    return "".join(pieces)


def _escape_plain(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE_SPECIALS.sub(r"\\\1", text)
    return "\n".join(_LINE_START.sub(_escape_line_start, line) for line in text.split("\n"))


def _escape_line_start(match: re.Match) -> str:
    indent, marker = match.groups()
    if marker[-1] in ".)":
        return f"{indent}{marker[:-1]}\\{marker[-1]}"
    return f"{indent}\\{marker}"


def markdown_lines(lines: list[str]) -> str:
    """The shared feedback lines as Markdown: a line starting with "- " opens a list item, an
    indented line continues it on a line of its own, any other line is a paragraph."""
    blocks: list[str] = []
    for line in lines:
        if line.startswith("- "):
            blocks.append("- " + escape_markdown(line[2:]))
        elif line.startswith("  ") and blocks and blocks[-1].startswith("- "):
            blocks[-1] += "  \n  " + escape_markdown(line.strip())
        else:
            blocks.append(escape_markdown(line))
    return _join_blocks(blocks)


def _join_blocks(blocks: list[str]) -> str:
    """Paragraphs apart by a blank line; list items of one list one line apart."""
    text = ""
    for index, block in enumerate(blocks):
        if index:
            both_items = block.startswith("- ") and blocks[index - 1].startswith("- ")
            text += "\n" if both_items else "\n\n"
        text += block
    return text


def test_output(check: CheckResult) -> str:
    return markdown_lines(check_lines(check))


def to_gradescope(result: SubmissionResult, leaderboard: bool = False) -> dict:
    """The results.json of one submission; with `leaderboard`, the grader's accuracies as
    leaderboard entries (only those it measured)."""
    results = {
        "score": total_score(result),
        "output": overall_output(result),
        "output_format": OUTPUT_FORMAT,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [gradescope_test(check) for check in result.checks],
        "extra_data": {
            "schema": SCHEMA,
            "grader_version": grader.__version__,
            "exercise": result.exercise,
            "submission": result.submission,
            "kind": result.kind,
            "mode": result.mode,
            "max_score": max_score(result),
            "versions": result.meta.get("versions"),
            "meta": result.meta,
            # The whole result as plain data: a resumed batch reads it back instead of regrading.
            "result": result_to_data(result),
        },
    }
    seconds = result.meta.get("seconds")
    if isinstance(seconds, (int, float)):
        results["execution_time"] = int(round(seconds))
    if leaderboard:
        results["leaderboard"] = leaderboard_entries(result)
    return results


def gradescope_test(check: CheckResult) -> dict:
    extra = {
        "check": check.check,
        "outcome": check.outcome.value,
        "diagnoses": [diagnosis.to_json() for diagnosis in check.diagnoses],
    }
    if check.model is not None:
        extra["model"] = check.model
    if check.data:
        extra["view"] = check.data
    return {
        "name": check.name,
        "score": check.score,
        "max_score": check.max_score,
        "status": "passed" if check.outcome is Outcome.PASSED else "failed",
        "output": test_output(check),
        "output_format": OUTPUT_FORMAT,
        "visibility": check.visibility,
        "extra_data": extra,
    }


def leaderboard_entries(result: SubmissionResult) -> list[dict]:
    """One entry per accuracy the grader measured, higher first; `Test accuracy` alone when the
    exercise grades one model's accuracy, else one column per model key."""
    measured = [check for check in result.checks
                if check.check == "accuracy" and isinstance(check.data.get("accuracy"), (int, float))]
    graded = [check for check in result.checks if check.check == "accuracy"]
    entries = []
    for check in measured:
        name = "Test accuracy" if len(graded) == 1 else f"Test accuracy ({check.model})"
        entries.append({"name": name, "value": round(float(check.data["accuracy"]), 4), "order": "desc"})
    return entries


def overall_output(result: SubmissionResult) -> str:
    passed = sum(1 for check in result.checks if check.outcome is Outcome.PASSED)
    text = (f"{result.exercise}: {total_score(result):g} / {max_score(result):g} points; "
            f"{passed} of {len(result.checks)} checks passed.")
    if result.mode == "quick":
        text += " Quick self-check: training was capped, so accuracy is not graded here."
    note = hidden_note(result)
    lines = [text] + ([note] if note else [])
    return markdown_lines(lines)


def write_results(result: SubmissionResult, folder: Path, leaderboard: bool = False) -> Path:
    return write_json(to_gradescope(result, leaderboard=leaderboard), folder)


def write_json(results: dict, folder: Path) -> Path:
    """Write `folder/results.json` whole or not at all (a temporary file renamed into place), so
    that a grader stopped while writing never leaves half a file for Gradescope to reject."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    handle, temporary = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(results, indent=1, default=str) + "\n")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path
