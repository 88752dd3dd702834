"""Turn the seed write-ups (/work/shared/seeds, markdown exports) back into the notebooks the
students handed in: examples/seeds/seed_000.ipynb ... seed_004.ipynb.

Code is kept exactly as written, typos and Keras 2 idioms included: those are what the grader
must cope with. Prose becomes markdown cells (one per run of prose, split before each heading);
printed outputs are dropped; the blog front matter is dropped.

Seeds 000-003 are fenced exports (```python, ~~~python, ~~~py). There an output is an indented
block or an image line after a code block. The one exception, seed 001's indented notes
("    - ..."), are markdown cells the student indented, and stay markdown.
Seed 004 is a plain-text export in which nothing marks where code ends and output begins, so
its cells are listed by hand below as line ranges of the seed file, checked against its
`In [N]:` markers.

Run from the repository root: python examples/seeds/convert_seeds.py [--seeds DIR] [--out DIR]
The output is deterministic (sorted keys, cell ids from the cell index).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

SEEDS_DIR = Path("..") / "shared" / "seeds"
OUT_DIR = Path("examples") / "seeds"

FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```|~~~)(?:python|py)[ \t]*$")
IN_MARKER = re.compile(r"^In \[(?:\d+|None| )\]:[ \t]*$")
HEADING = re.compile(r"^#{1,6} ")

# Seed 004: (kind, first line, last line), 1-based and inclusive, in the seed file.
SEED_004_CELLS = (
    ("markdown", 1, 6), ("markdown", 8, 13),
    ("code", 16, 21),      # In [4]
    ("markdown", 25, 28),
    ("code", 31, 34),      # In [6]
    ("code", 39, 42),      # In [7]
    ("code", 47, 47),      # In [8]
    ("markdown", 57, 61),
    ("code", 64, 65),      # In [10]
    ("markdown", 72, 72),
    ("code", 75, 77),      # In [11]
    ("code", 80, 85),      # In [14]
    ("markdown", 94, 98),
    ("code", 101, 121),    # In [16]
    ("markdown", 133, 138),
    ("code", 141, 150),    # In [18]
    ("markdown", 169, 169),
    ("code", 172, 176),    # In [19]
    ("code", 179, 180),    # In [21]
    ("code", 183, 188),    # In [22]
    ("markdown", 213, 216),
    ("code", 219, 234),    # In [33]
    ("markdown", 238, 238),
    ("code", 241, 242),    # In [25]
    ("markdown", 254, 254), ("markdown", 256, 261),
    ("code", 264, 277),    # In [30]
    ("markdown", 296, 297),
    ("code", 300, 308),    # In [36]
    ("code", 335, 335),    # In [None]
    ("markdown", 337, 337),
    ("code", 340, 340),
    ("code", 343, 345),
    ("markdown", 347, 348),
    ("code", 351, 359),
    ("code", 362, 362),
    ("markdown", 364, 368),
    ("code", 371, 372),
    ("code", 375, 383),
    ("markdown", 385, 387),
)


def strip_front_matter(lines: list[str]) -> list[str]:
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() == "---":
                return lines[index + 1:]
    return lines


def is_output_line(line: str) -> bool:
    return line.startswith(("    ", "\t")) or line.lstrip().startswith("![")


def is_indented_note(block: list[str]) -> bool:
    """Seed 001's indented markdown lists: every line of the block starts with '    - '."""
    return all(line.startswith("    - ") for line in block)


def fenced_cells(lines: list[str]) -> list[tuple[str, str]]:
    """Cells of a fenced export: code blocks, prose runs, with outputs dropped."""
    cells: list[tuple[str, str]] = []
    prose: list[str] = []

    def flush_prose() -> None:
        cells.extend(("markdown", text) for text in split_at_headings(prose))
        prose.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        opening = FENCE_OPEN.match(line)
        if opening:
            flush_prose()
            indent, fence = opening["indent"], opening["fence"]
            code: list[str] = []
            index += 1
            while lines[index].rstrip() != indent + fence:
                code.append(lines[index][len(indent):] if lines[index].startswith(indent) else lines[index])
                index += 1
            cells.append(("code", "\n".join(code)))
            index += 1
            continue
        if line.strip() and is_output_line(line):
            block = []
            while index < len(lines) and lines[index].strip() and is_output_line(lines[index]):
                block.append(lines[index])
                index += 1
            if is_indented_note(block):
                prose.extend(block)
            else:
                flush_prose()
            continue
        prose.append(line)
        index += 1
    flush_prose()
    return cells


def split_at_headings(lines: list[str]) -> list[str]:
    """One markdown cell per heading (and one for any prose before the first heading)."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        if HEADING.match(line) and any(text.strip() for text in chunks[-1]):
            chunks.append([])
        chunks[-1].append(line)
    texts = []
    for chunk in chunks:
        text = trim_blank_lines(chunk)
        if text:
            texts.append(text)
    return texts


def trim_blank_lines(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def seed_004_cells(lines: list[str]) -> list[tuple[str, str]]:
    """The hand-listed cells of seed 004, checked against the `In [N]:` markers."""
    markers = {number for number, line in enumerate(lines, 1) if IN_MARKER.match(line)}
    code_starts = set()
    cells = []
    for kind, first, last in SEED_004_CELLS:
        if kind == "code":
            if first - 1 not in markers:
                raise ValueError(f"seed 004: code cell at line {first} does not follow an In [N]: line")
            code_starts.add(first - 1)
            text = trim_blank_lines(lines[first - 1:last])
        else:
            if any(first <= marker <= last for marker in markers):
                raise ValueError(f"seed 004: markdown lines {first}-{last} contain an In [N]: line")
            text = trim_blank_lines(lines[first - 1:last])
        if not text:
            raise ValueError(f"seed 004: lines {first}-{last} are empty")
        cells.append((kind, text))
    if markers != code_starts:
        raise ValueError(f"seed 004: In [N]: lines without a code cell: {sorted(markers - code_starts)}")
    return cells


def notebook(cells: list[tuple[str, str]]) -> dict:
    json_cells = []
    for index, (kind, text) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": source_lines(text)}
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        json_cells.append(cell)
    return {
        "cells": json_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def source_lines(text: str) -> list[str]:
    """Jupyter's on-disk form: a list of lines, each but the last ending in a newline."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    text = json.dumps(notebook(cells), indent=1, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, default=SEEDS_DIR, help="folder of NNN_*.txt seeds")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for seed_NNN.ipynb")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in sorted(args.seeds.glob("[0-9][0-9][0-9]_*.txt")):
        number = seed.name[:3]
        lines = seed.read_text(encoding="utf-8").split("\n")
        if number == "004":
            cells = seed_004_cells(lines)
        else:
            cells = fenced_cells(strip_front_matter(lines))
        target = args.out / f"seed_{number}.ipynb"
        write_notebook(target, cells)
        counts = {kind: sum(1 for k, _ in cells if k == kind) for kind in ("code", "markdown")}
        print(f"{target}: {counts['code']} code cells, {counts['markdown']} markdown cells")


if __name__ == "__main__":
    main()
