"""The notebooks `benchmarks/throughput.py` grades: a class of short fashion_cnn submissions.

Each one is a copy of a bundled example of `examples/submissions/fashion_cnn/` (the correct
notebook, or one with a usual mistake), its outputs dropped and its training shortened the same
way in every copy (`SHORTEN`), so that even a plain `jupyter nbconvert --execute` runs it in
seconds. Half are correct (identical copies under distinct names), half broken, cycling through
`BROKEN`: wrong architectures the grader fails, and errors a student's run stops at. None loops
forever, allocates much, writes outside its folder or plots (the one that calls `plt` never
imported it). Names start with their position, so a sorted folder interleaves correct and
broken ones: `01_correct.ipynb`, `02_broken_no_dropout.ipynb`, ...

    python benchmarks/notebooks.py FOLDER [--count 20]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples/submissions/fashion_cnn"
CORRECT = "clean--passed--correct"
BROKEN = (
    ("layer_missing--failed--no_dropout", False),
    ("param_mismatch--failed--first_conv_kernel_5", False),
    ("name_error--passed--plt_not_imported", True),
    ("layer_type_mismatch--failed--average_pooling_first_block", False),
    ("syntax_error--passed--unclosed_bracket", True),
    ("wrong_output_classes--failed--dense_5_output", False),
    ("metrics_not_list--passed--metrics_string", True),
    ("runtime_error--passed--reshape_29x29", True),
)
"""The examples the broken copies come from, in the order they are cycled through, and whether
running one raises (in some cell) or runs to the end with the wrong model."""
SHORTEN = (("epochs=1,", "epochs=1, batch_size=64,"),)
"""Edits made once to every notebook's code, each found exactly once: the examples already train
one epoch on 2,000 images and evaluate on 500; 64 images a batch halves the steps of that epoch."""


def write_notebooks(folder: Path, count: int = 20) -> list[Path]:
    """Write `count` notebooks into `folder` (made if missing), about half of them correct; return
    their paths in name order. Each notebook's metadata says what it is (`benchmark`: `variant`,
    the `example` it comes from, whether it `raises`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        source, raises = (CORRECT, False) if index % 2 == 0 else BROKEN[(index // 2) % len(BROKEN)]
        variant = "correct" if source == CORRECT else "broken_" + source.rsplit("--", 1)[1]
        path = folder / f"{index + 1:02d}_{variant}.ipynb"
        nbformat.write(shortened(EXAMPLES / f"{source}.ipynb", variant, raises), path)
        paths.append(path)
    return paths


def shortened(example: Path, variant: str, raises: bool) -> nbformat.NotebookNode:
    """The example without outputs, pinned to the python3 kernel, with `SHORTEN` applied."""
    notebook = nbformat.read(example, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    for old, new in SHORTEN:
        if code.count(old) != 1:
            raise ValueError(f"{example.name}: expected exactly one {old!r} in its code cells")
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
        if cell.cell_type == "code":
            for old, new in SHORTEN:
                cell.source = cell.source.replace(old, new)
            cell.outputs, cell.execution_count = [], None
    notebook.metadata = nbformat.from_dict({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "benchmark": {"variant": variant, "example": example.name, "raises": raises},
    })
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    for path in write_notebooks(args.folder, args.count):
        print(path)


if __name__ == "__main__":
    main()
