"""The grading step of the Gradescope autograder: `run_autograder` runs `python -m grader.gradescope_run`.

It grades what the student uploaded to `<root>/submission` (one notebook, a module or a saved
model, or in --artifacts mode the notebook with the model files it saves; possibly inside a
folder) with the grader's own functions, and always writes `<root>/results/results.json`:
- a graded submission: its results, in the mode the zip was built for;
- nothing gradable uploaded: every check an error, explained by `unsupported_submission`;
- a stage of the grader that raises (the data, the run, the evaluation, the report): every check
  of the exercise, as an error, with `grader_error` naming the stage and the exception;
- no exercise to grade (config missing or unreadable, an unknown exercise, no expected file): a
  score of 0 and `grader_error` with the reason, no tests.
If Python cannot even start this module (no grader installed, a broken interpreter, killed for
memory), `run_autograder` writes a results.json of its own.

`<root>` is `/autograder` unless `AUTOGRADER_ROOT` says otherwise. It writes nothing but
`<root>/results/` and one temporary folder (HOME, TMPDIR and the caches of Matplotlib, IPython
and Jupyter point into it), removed at the end.

Environment (set by run_autograder, or by a test):
- `AUTOGRADER_ROOT`: the stand-in for `/autograder`.
- `CNNGRADER_AUTOGRADER_MODE`: `quick`, `full` or `artifacts`, overriding the zip's mode. For the
  tests only (quick grades in seconds, but never a final grade); Gradescope never sets it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .diagnoses import diagnose
from .report.feedback import diagnosis_lines
from .report.gradescope import SCHEMA, markdown_lines, to_gradescope, write_json

CONFIG_NAME = "cnngrader-autograder.json"
ROOT_VARIABLE = "AUTOGRADER_ROOT"
MODE_VARIABLE = "CNNGRADER_AUTOGRADER_MODE"
MODES = ("full", "artifacts", "quick")
IGNORED_NAMES = ("__MACOSX",)
GRADER_RESERVE_BYTES = 640 * 2**20
"""Memory kept for the grader's own process under a container limit: the submission's processes
are stopped (`memory_limit`) before the container's OOM killer picks a process at random."""


@dataclass(frozen=True)
class AutograderConfig:
    """What `cnngrader gradescope build` wrote into the zip's cnngrader-autograder.json."""

    exercise: str
    mode: str = "full"
    """full (the notebook runs as written) or artifacts (it runs capped; uploaded models graded)."""
    leaderboard: bool = False
    grader_version: str | None = None
    keras: int = 3
    """The Keras the submissions run under: 2 (tf-keras, which setup.sh then installs) or 3."""


def autograder_root() -> Path:
    return Path(os.environ.get(ROOT_VARIABLE) or "/autograder")


def read_config(root: Path) -> AutograderConfig:
    path = root / "source" / CONFIG_NAME
    try:
        data = json.loads(path.read_text())
        config = AutograderConfig(exercise=str(data["exercise"]), mode=str(data.get("mode", "full")),
                                  leaderboard=bool(data.get("leaderboard", False)),
                                  grader_version=data.get("grader_version"), keras=int(data.get("keras", 3)))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    mode = os.environ.get(MODE_VARIABLE) or config.mode
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if config.keras not in (2, 3):
        raise ValueError(f"keras {config.keras!r} is not 2 or 3")
    return AutograderConfig(config.exercise, mode, config.leaderboard, config.grader_version, config.keras)


def upload_folder(folder: Path) -> Path:
    """The folder that holds the upload: `folder`, or the one folder it holds when it holds no
    file of its own (a zip of a folder, a repository checkout), followed down."""
    while folder.is_dir():
        entries = [entry for entry in folder.iterdir()
                   if not entry.name.startswith(".") and entry.name not in IGNORED_NAMES]
        folders = [entry for entry in entries if entry.is_dir()]
        if any(entry.is_file() for entry in entries) or len(folders) != 1:
            return folder
        folder = folders[0]
    return folder


def find_upload(submission_dir: Path):
    """The one submission in Gradescope's upload folder, or one explaining that none is there."""
    from .grading import Submission, submission_in_folder

    if not submission_dir.is_dir():
        return Submission("submission", None, "nothing was uploaded")
    folder = upload_folder(submission_dir)
    found = submission_in_folder(folder)
    if found.path is None:
        return Submission("submission", None, "the upload holds no .ipynb, .py, .keras or .h5 file")
    name = found.path.stem
    return Submission(name, found.path, artifacts=found.artifacts)


def memory_limit_bytes(cgroup_files: tuple[Path, ...] = (Path("/sys/fs/cgroup/memory.max"),
                                                         Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")),
                       default: int = 8 * 2**30) -> int:
    """The submission's memory limit: the container's, less what the grader keeps, else `default`."""
    for path in cgroup_files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < default + GRADER_RESERVE_BYTES:
            return max(int(text) - GRADER_RESERVE_BYTES, 256 * 2**20)
    return default


def isolate_environment(workdir: Path) -> None:
    """Point HOME, TMPDIR and the caches into `workdir`: the grader, the kernel and the evaluation
    process write there, not into the image."""
    folders = {"HOME": "home", "TMPDIR": "tmp", "MPLCONFIGDIR": "matplotlib", "IPYTHONDIR": "ipython",
               "JUPYTER_RUNTIME_DIR": "jupyter-runtime", "XDG_CACHE_HOME": "cache", "XDG_CONFIG_HOME": "config"}
    for variable, name in folders.items():
        path = workdir / name
        path.mkdir(parents=True, exist_ok=True)
        os.environ[variable] = str(path)
    tempfile.tempdir = os.environ["TMPDIR"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")


def graded_results(config: AutograderConfig, root: Path, workdir: Path) -> dict:
    """Grade the upload. Loading the exercise may raise (no result can be built without it); a
    later stage that raises gives every check as an error, with the stage and the reason."""
    from .evaluate import error_result
    from .exercises import load_spec
    from .grading import grade_submission, prepare_run
    from .reference import load_expected
    from .report.terminal import render_text

    spec = load_spec(config.exercise)
    expected = load_expected(spec.reference, keras=config.keras)
    submission = find_upload(root / "submission")
    mode = config.mode
    stage = "preparing the data"
    try:
        options = prepare_run(spec, workdir / "batch", quick=mode == "quick", timeout=None, data_dir=None,
                              memory_limit_bytes=memory_limit_bytes(), artifacts=mode == "artifacts",
                              keras=config.keras)
        stage = "grading the submission"
        result = grade_submission(submission, spec, expected, options)
    except Exception as error:  # noqa: BLE001 - the student still gets a results.json
        traceback.print_exc()
        result = error_result(spec, submission.name, "unknown", f"{stage}: {type(error).__name__}: {error}",
                              mode, code="grader_error")
    print(render_text(result), flush=True)
    return to_gradescope(result, leaderboard=config.leaderboard)


def failure_results(reason: str, config: AutograderConfig | None, seconds: float) -> dict:
    """A valid results.json when no exercise result could be built: score 0 and the reason."""
    diagnosis = diagnose("grader_error", path="your submission", problem=reason)
    return {
        "score": 0.0,
        "execution_time": int(round(seconds)),
        "output": markdown_lines(diagnosis_lines(diagnosis)),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {
            "schema": SCHEMA,
            "exercise": config.exercise if config else None,
            "mode": config.mode if config else None,
            "diagnoses": [diagnosis.to_json()],
            "error": reason,
        },
    }


def main() -> int:
    """Exit status 0 when the submission was graded, 1 when the grader failed (results.json is
    written either way)."""
    started = time.monotonic()
    root = autograder_root()
    config = None
    try:
        with tempfile.TemporaryDirectory(prefix="cnngrader-autograder-", ignore_cleanup_errors=True) as workdir:
            isolate_environment(Path(workdir))
            config = read_config(root)
            print(f"cnngrader: grading {config.exercise} in {config.mode} mode from {root / 'submission'}", flush=True)
            results = graded_results(config, root, Path(workdir))
    except Exception as error:  # noqa: BLE001 - whatever broke, Gradescope gets a results.json
        traceback.print_exc()
        results = failure_results(f"{type(error).__name__}: {error}", config, time.monotonic() - started)
    results.setdefault("execution_time", int(round(time.monotonic() - started)))
    path = write_json(results, root / "results")
    failed = any(d.get("code") == "grader_error" for d in _all_diagnoses(results))
    print(f"cnngrader: score {results['score']:g}; wrote {path}", flush=True)
    return 1 if failed else 0


def _all_diagnoses(results: dict) -> list[dict]:
    listed = list(results.get("extra_data", {}).get("diagnoses", []))
    for test in results.get("tests", []):
        listed.extend(test.get("extra_data", {}).get("diagnoses", []))
    return listed


if __name__ == "__main__":
    sys.exit(main())
