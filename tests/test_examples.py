"""Every example submission, graded for real, gives exactly the verdict in its name (layer 3).

Names read `<codes>--<architecture>--<slug>.<ext>`: `<codes>` is `clean` or the diagnosis codes
joined by `+`; `<architecture>` is passed, failed or error, the combined outcome of the
exercise's architecture checks. See examples/submissions/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.exercises import load_spec
from grader.grading import SUBMISSION_SUFFIXES, Submission, grade_submission, submission_in_folder
from grader.reference import load_expected
from grader.report.gradescope import to_gradescope
from grader.results import Outcome, all_diagnoses

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions"
SEEDS = Path(__file__).resolve().parent.parent / "examples" / "seeds"
SEED_EXERCISES = {"seed_000": "fashion_cnn", "seed_001": "fashion_pooling", "seed_002": "fashion_conv_intro",
                  "seed_003": "mnist_models", "seed_004": "cnn_transfer"}


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*/*")
                  if "--" in p.name and (p.suffix in SUBMISSION_SUFFIXES or p.is_dir()))


def parse_name(path: Path) -> tuple[set[str], str]:
    codes, architecture, _ = (path.name if path.is_dir() else path.stem).split("--", 2)
    return (set() if codes == "clean" else set(codes.split("+"))), architecture


def options_for(run_options_for, exercise: str, codes: set[str]):
    # A short cell limit only where the example is about time; everything runs in quick mode.
    timeout = 15 if "timeout" in codes else 180
    return run_options_for(exercise, quick=True, timeout=timeout, memory_limit_bytes=3 * 2**30)


def architecture_verdict(result) -> str:
    outcomes = {check.outcome for check in result.checks if check.check == "architecture"}
    if Outcome.ERROR in outcomes:
        return "error"
    return "failed" if Outcome.FAILED in outcomes else "passed"


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.parametrize("path", example_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_gets_exactly_the_codes_in_its_name(path, run_options_for):
    codes, architecture = parse_name(path)
    exercise = path.parent.name
    spec = load_spec(exercise)
    submission = submission_in_folder(path) if path.is_dir() else Submission(path.stem, path)
    result = grade_submission(submission, spec, load_expected(spec.reference),
                              options_for(run_options_for, exercise, codes))
    emitted = {d.code for d in all_diagnoses(result) if d.kind.audience == "student"}
    assert emitted == codes, [f"{d.code}: {d.message}" for d in all_diagnoses(result)]
    assert architecture_verdict(result) == architecture, [(c.name, c.outcome, c.summary) for c in result.checks]
    results = to_gradescope(result)
    json.dumps(results)
    assert (results["score"] == sum(t["max_score"] for t in results["tests"])) == (not codes)


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.parametrize("seed", sorted(SEED_EXERCISES))
def test_seed_notebooks_are_graded_without_a_crash(seed, run_options_for):
    path = SEEDS / f"{seed}.ipynb"
    spec = load_spec(SEED_EXERCISES[seed])
    result = grade_submission(Submission(seed, path), spec, load_expected(spec.reference),
                              run_options_for(spec.id, quick=True, timeout=300))
    assert result.checks and all(check.max_score >= check.score >= 0 for check in result.checks)
    json.dumps(to_gradescope(result))
    codes = {d.code for d in all_diagnoses(result)}
    if seed == "seed_004":
        assert "pooling_collapse" in codes


def test_every_example_name_follows_the_convention():
    from grader.diagnoses import CATALOGUE

    assert example_files(), "no example submissions found"
    for path in example_files():
        codes, architecture = parse_name(path)
        assert architecture in ("passed", "failed", "error"), path.name
        assert codes <= set(CATALOGUE), (path.name, codes - set(CATALOGUE))
        assert path.parent.name in SEED_EXERCISES.values(), path


def test_every_catalogued_student_code_has_an_example():
    from grader.diagnoses import KINDS

    covered = set().union(*(parse_name(path)[0] for path in example_files()))
    wanted = {kind.code for kind in KINDS if kind.audience == "student" and not kind.retired}
    assert wanted - covered == set()
