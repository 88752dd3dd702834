"""Wall time of `--quick` grading of one correct notebook, and how much of it is fixed overhead.

Prints: the whole `grade_submission` call, kernel start, the probe's set-up cell (which imports
TensorFlow/Keras in the kernel), the student's cells, and the grader's own evaluation. Runs each
measurement REPEATS times in fresh kernels and prints min / median / max. Not part of the tests.

    python benchmarks/quick_grade.py [NOTEBOOK] [--exercise ID] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from grader.exercises import load_spec
from grader.grading import Submission, grade_submission, prepare_run
from grader.reference import load_expected

DEFAULT = Path(__file__).resolve().parent.parent / "examples/submissions/fashion_cnn/clean--passed--correct.ipynb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--exercise", default="fashion_cnn")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    spec = load_spec(args.exercise)
    expected = load_expected(spec.reference)
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        started = time.monotonic()
        options = prepare_run(spec, Path(workdir), quick=True, timeout=None, data_dir=None)
        prepare = time.monotonic() - started
        for _ in range(args.repeats):
            started = time.monotonic()
            result = grade_submission(Submission(args.notebook.stem, args.notebook), spec, expected, options)
            total = time.monotonic() - started
            meta = result.meta
            kernel, setup, run = meta["kernel_start_seconds"], meta["probe_setup_seconds"], meta["run_seconds"]
            for name, value in (("total (grade_submission)", total), ("kernel start", kernel),
                                ("probe set-up: TensorFlow/Keras import", setup),
                                ("student cells", run - kernel - setup), ("grader outside the kernel", total - run)):
                rows.setdefault(name, []).append(value)
    print(f"{args.notebook.name}, exercise {args.exercise}, --quick, {args.repeats} runs "
          f"(batch preparation, once: {prepare:.1f} s)")
    for name, values in rows.items():
        share = statistics.median(values) / statistics.median(rows["total (grade_submission)"]) * 100
        print(f"  {name:<40} min {min(values):6.2f} s  median {statistics.median(values):6.2f} s  "
              f"max {max(values):6.2f} s  ({share:4.0f}% of the median total)")


if __name__ == "__main__":
    main()
