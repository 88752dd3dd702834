"""Grade the five seed notebooks as handed in (examples/seeds/) in quick mode under Keras 3 and
under Keras 2, and print the README's table: each seed, its codes in either mode, its score.

    python3 scripts/seeds_by_keras.py [--json FILE]

Each notebook runs as `cnngrader grade --quick` runs it (its own confined kernel); takes a few
minutes. tests/test_keras2.py asserts the same codes seed by seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.exercises import load_spec  # noqa: E402
from grader.grading import Submission, grade_submission, prepare_run  # noqa: E402
from grader.reference import load_expected  # noqa: E402
from grader.results import all_diagnoses, max_score, total_score  # noqa: E402

SEEDS = {"seed_000": "fashion_cnn", "seed_001": "fashion_pooling", "seed_002": "fashion_conv_intro",
         "seed_003": "mnist_models", "seed_004": "cnn_transfer"}


def grade(seed: str, keras: int, folder: Path) -> dict:
    spec = load_spec(SEEDS[seed])
    options = prepare_run(spec, folder, quick=True, timeout=300, data_dir=None, keras=keras)
    result = grade_submission(Submission(seed, ROOT / "examples" / "seeds" / f"{seed}.ipynb"), spec,
                              load_expected(spec.reference), options)
    codes = sorted({d.code for d in all_diagnoses(result) if d.kind.audience == "student"})
    return {"codes": codes, "score": total_score(result), "max": max_score(result)}


def points(value: float) -> str:
    """4.7976 -> '4.8', 9.0 -> '9'."""
    return f"{value:.1f}".removesuffix(".0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    found = {}
    with tempfile.TemporaryDirectory(prefix="cnngrader-seeds-") as workdir:
        for seed in SEEDS:
            found[seed] = {}
            for keras in (3, 2):
                folder = Path(workdir) / f"{seed}-{keras}"
                folder.mkdir()
                found[seed][keras] = grade(seed, keras, folder)
                print(f"{seed} Keras {keras}: {found[seed][keras]}", file=sys.stderr, flush=True)
    print("| seed | exercise | codes under Keras 3 | codes under Keras 2 | score (Keras 3 / Keras 2) |")
    print("|---|---|---|---|---|")
    for seed, modes in found.items():
        cells = [", ".join(f"`{code}`" for code in modes[k]["codes"]) or "none" for k in (3, 2)]
        print(f"| {seed} | {SEEDS[seed]} | {cells[0]} | {cells[1]} | "
              f"{points(modes[3]['score'])} / {points(modes[2]['score'])} of {points(modes[3]['max'])} |")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
