"""Every example submission, graded for real, gives exactly the verdict in its name (layer 3).

Names read `<codes>--<architecture>--<slug>.<ext>`: `<codes>` is `clean` or the diagnosis codes
joined by `+`; `<architecture>` is passed, failed or error, the combined outcome of the
exercise's architecture checks. The folder says the mode: `<exercise>/*` are graded in quick
mode, `<exercise>/full/*` in full mode, `<exercise>/artifacts/<folder>/` (a notebook and the
model files it saves) in --artifacts mode. See examples/submissions/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.exercises import load_spec
from grader.grading import SUBMISSION_SUFFIXES, Submission, grade_submission, prepare_run, submission_in_folder
from grader.reference import load_expected
from grader.report.gradescope import to_gradescope
from grader.results import Outcome, all_diagnoses

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions"
SEED_EXERCISES = {"seed_000": "fashion_cnn", "seed_001": "fashion_pooling", "seed_002": "fashion_conv_intro",
                  "seed_003": "mnist_models", "seed_004": "cnn_transfer"}
MODE_FOLDERS = ("full", "artifacts")
"""Subfolders of an exercise's folder named after the mode their examples are graded in; the
examples directly in the exercise's folder are graded in quick mode."""

# Examples whose name states the right verdict but which the grader gets wrong today: each is
# expected to fail until the grader is fixed (strict, so the fix shows as a failure to clean up).
GRADER_BUGS: dict[str, str] = {}


def example_files() -> list[Path]:
    """Every example: quick ones in the exercise's folder, the others in its mode folders."""
    found = []
    for exercise in sorted(path for path in EXAMPLES.iterdir() if path.is_dir()):
        for folder in (exercise, *(exercise / mode for mode in MODE_FOLDERS)):
            found += [path for path in folder.glob("*")
                      if "--" in path.name and (path.suffix in SUBMISSION_SUFFIXES or path.is_dir())]
    return sorted(found)


def exercise_of(path: Path) -> str:
    return path.relative_to(EXAMPLES).parts[0]


def mode_of(path: Path) -> str:
    parts = path.relative_to(EXAMPLES).parts
    return parts[1] if len(parts) > 2 and parts[1] in MODE_FOLDERS else "quick"


def example_id(path: Path) -> str:
    return path.relative_to(EXAMPLES).as_posix()


def example_params() -> list:
    return [pytest.param(path, id=example_id(path),
                         marks=[pytest.mark.xfail(strict=True, reason=GRADER_BUGS[example_id(path)])]
                         if example_id(path) in GRADER_BUGS else [])
            for path in example_files()]


def parse_name(path: Path) -> tuple[set[str], str]:
    codes, architecture, _ = (path.name if path.is_dir() else path.stem).split("--", 2)
    return (set() if codes == "clean" else set(codes.split("+"))), architecture


@pytest.fixture(scope="module")
def options_for(run_options_for, tmp_path_factory):
    """RunOptions per (exercise, mode, timeout): the shared fixture's for quick and full mode,
    prepared here for --artifacts, which it does not offer."""
    prepared = {}

    def make(exercise: str, mode: str, codes: set[str]):
        # A short cell limit only where the example is about time.
        timeout = 15 if "timeout" in codes else 180
        if mode != "artifacts":
            return run_options_for(exercise, quick=mode == "quick", timeout=timeout, memory_limit_bytes=3 * 2**30)
        key = (exercise, mode, timeout)
        if key not in prepared:
            prepared[key] = prepare_run(load_spec(exercise), tmp_path_factory.mktemp(f"{exercise}-{mode}"),
                                        quick=False, timeout=timeout, data_dir=None,
                                        memory_limit_bytes=3 * 2**30, artifacts=True)
        return prepared[key]

    return make


def architecture_verdict(result) -> str:
    outcomes = {check.outcome for check in result.checks if check.check == "architecture"}
    if Outcome.ERROR in outcomes:
        return "error"
    return "failed" if Outcome.FAILED in outcomes else "passed"


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.parametrize("path", example_params())
def test_example_gets_exactly_the_codes_in_its_name(path, options_for):
    codes, architecture = parse_name(path)
    exercise, mode = exercise_of(path), mode_of(path)
    spec = load_spec(exercise)
    submission = submission_in_folder(path) if path.is_dir() else Submission(path.stem, path)
    result = grade_submission(submission, spec, load_expected(spec.reference), options_for(exercise, mode, codes))
    assert result.mode == mode
    emitted = {d.code for d in all_diagnoses(result) if d.kind.audience == "student"}
    assert emitted == codes, [f"{d.code}: {d.message}" for d in all_diagnoses(result)]
    assert architecture_verdict(result) == architecture, [(c.name, c.outcome, c.summary) for c in result.checks]
    json.dumps(to_gradescope(result))
    # Quick mode skips the checks that need real training (they score 0): clean means that every
    # check passed or was skipped, and a passed check has all its points.
    outcomes = [(check.name, check.outcome, check.summary) for check in result.checks]
    assert all(check.outcome in (Outcome.PASSED, Outcome.SKIPPED) for check in result.checks) == (not codes), outcomes
    assert all(check.score == check.max_score for check in result.checks if check.outcome is Outcome.PASSED)


def test_every_example_name_follows_the_convention():
    from grader.diagnoses import CATALOGUE

    assert example_files(), "no example submissions found"
    for path in example_files():
        codes, architecture = parse_name(path)
        assert architecture in ("passed", "failed", "error"), path.name
        assert codes <= set(CATALOGUE), (path.name, codes - set(CATALOGUE))
        assert exercise_of(path) in SEED_EXERCISES.values(), path
        if mode_of(path) == "artifacts":
            # A folder: the notebook and its model files, or the notebook alone for missing_upload.
            assert path.is_dir() and (submission_in_folder(path).artifacts or "missing_upload" in codes), \
                f"{path}: a notebook and its model files"
    assert set(GRADER_BUGS) <= {example_id(path) for path in example_files()}, "a known grader bug names no example"


def test_every_catalogued_student_code_has_an_example():
    from grader.diagnoses import KINDS

    covered = set().union(*(parse_name(path)[0] for path in example_files()))
    wanted = {kind.code for kind in KINDS if kind.audience == "student" and not kind.retired}
    assert wanted - covered == set()
