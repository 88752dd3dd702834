"""`cnngrader grade`: find the submissions, run each in its own process, evaluate, write results.

Files are read at the start (spec, expected file, data) and written at the end of each
submission (its results.json); everything between is data. A broken submission is a normal
input: it ends with a results.json like any other.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import data
from .evaluate import error_result, evaluate, needs_predictions, prepare_grading
from .exercises import ExerciseSpec, load_spec
from .reference import ExpectedFilesChanged, expected_path, verify_expected
from .report.exports import write_grades_csv, write_junit
from .report.gradescope import write_results
from .report.html import write_report, write_summary
from .report.progress import Progress
from .report.terminal import render_text
from .results import SubmissionResult, max_score, total_score
from .runner import RunOptions, keras2, run_module, run_notebook
from .runner.evaluation import run_evaluation
from .runner.sandbox import IsolationUnavailable, detect
from .versions import run_versions
from .checks.artifacts import artifact_files, evaluated_models

NOTEBOOK_SUFFIXES = (".ipynb",)
MODULE_SUFFIXES = (".py",)
MODEL_SUFFIXES = (".keras", ".h5")
SUBMISSION_SUFFIXES = NOTEBOOK_SUFFIXES + MODULE_SUFFIXES + MODEL_SUFFIXES


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path | None
    """The file to run; None when a folder holds nothing gradable."""
    problem: str | None = None
    artifacts: tuple[Path, ...] = ()
    """Model files handed in beside the notebook (a folder submission), for --artifacts mode."""


def find_submissions(paths: list[Path], artifacts: bool = False) -> list[Submission]:
    """One submission per file, or per subfolder (its notebook, else module, else saved model).
    With `artifacts`, a folder that holds a notebook itself is one submission: the notebook and
    the model files beside it."""
    found: list[Submission] = []
    for path in paths:
        if artifacts and path.is_dir() and any(path.glob("*.ipynb")):
            found.append(submission_in_folder(path))
        elif path.is_file():
            found.append(Submission(_name(path), path))
        elif path.is_dir():
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_file() and child.suffix in SUBMISSION_SUFFIXES:
                    found.append(Submission(_name(child), child))
                elif child.is_dir():
                    found.append(submission_in_folder(child))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


RESERVED_NAMES = {"index.html", "grades.csv", "junit.xml", "grading.log"}


def unique_names(submissions: list[Submission]) -> list[Submission]:
    """Give every submission an output folder of its own: `a/x.ipynb` and `b/x.ipynb` become
    `a-x` and `b-x`, `alice.ipynb` and `alice.py` become `alice-ipynb` and `alice-py`, and a
    name the class files use (index.html) or a hidden one gets a prefix. Nothing is replaced."""
    named = [replace(item, name=f"_{item.name.lstrip('.')}" if item.name.startswith(".") or
                     item.name.casefold() in RESERVED_NAMES or not item.name else item.name) for item in submissions]
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(named):
        groups.setdefault(item.name.casefold(), []).append(index)
    for members in groups.values():
        if len(members) < 2:
            continue
        items = [named[index] for index in members]
        parents = [item.path.parent.name if item.path else "" for item in items]
        suffixes = [item.path.suffix.lstrip(".") if item.path and item.path.suffix else "" for item in items]
        for index, item, parent, suffix in zip(members, items, parents, suffixes):
            if len(set(parents)) == len(items):
                named[index] = replace(item, name=f"{parent}-{item.name}")
            elif len(set(suffixes)) == len(items):
                named[index] = replace(item, name=f"{item.name}-{suffix}")
    seen: dict[str, int] = {}
    final = []
    for item in named:
        count = seen.get(item.name.casefold(), 0)
        seen[item.name.casefold()] = count + 1
        final.append(replace(item, name=f"{item.name}-{count + 1}") if count else item)
    return final


def submission_in_folder(folder: Path) -> Submission:
    """A folder is one submission: its notebook, else its module, else its saved model."""
    for suffixes in (NOTEBOOK_SUFFIXES, MODULE_SUFFIXES, MODEL_SUFFIXES):
        candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in suffixes)
        if candidates:
            models = tuple(sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in MODEL_SUFFIXES
                                  and p != candidates[0]))
            return Submission(folder.name, candidates[0], artifacts=models)
    return Submission(folder.name, None, f"the folder {folder.name} holds no .ipynb, .py, .keras or .h5 file")


def _name(path: Path) -> str:
    return path.stem if path.suffix in SUBMISSION_SUFFIXES else path.name


def run_mode(quick: bool, artifacts: bool) -> str:
    return "artifacts" if artifacts else "quick" if quick else "full"


def prepare_run(spec: ExerciseSpec, workdir: Path, quick: bool, timeout: float | None,
                data_dir: str | None, memory_limit_bytes: int | None = 8 * 2**30,
                artifacts: bool = False, keras: int | None = None) -> RunOptions:
    """What every submission of this batch shares: limits, a KERAS_HOME with the datasets, data
    files, and the evaluation images with their labels (kept in the grader's process).

    `keras`: the Keras the submissions run under (default: the spec's); Keras 2 mode raises
    `keras2.Keras2Unavailable`, saying how to install it, where tf-keras is not installed."""
    keras = keras or spec.keras
    _require_keras(spec, keras)
    mode = run_mode(quick, artifacts)
    capped = mode != "full"
    keras_home = workdir / "keras-home"
    served = data.prepare_keras_home(keras_home, data_dir)
    provided = {}
    if spec.provided_data:
        transfer = data.load_transfer_data(data_dir)
        path = workdir / spec.provided_data
        np.savez(path, **{k: v for k, v in transfer.items() if isinstance(v, np.ndarray)})
        provided[spec.provided_data] = path
        served["transfer"] = transfer["source"]
    evaluation = (data.evaluation_set(spec.dataset, data_dir, spec.holdout_path)
                  if needs_predictions(spec, mode) else None)
    return RunOptions(
        cell_timeout=timeout or (spec.quick_cell_timeout if capped else spec.cell_timeout),
        submission_timeout=max(spec.submission_timeout, timeout or 0),
        memory_limit_bytes=memory_limit_bytes, quick=capped, keras_home=keras_home,
        data_served=served, provided_files=provided, mode=mode, evaluation=evaluation,
        evaluation_timeout=spec.evaluation_timeout, keras=keras,
    )


def _require_keras(spec: ExerciseSpec, keras: int) -> None:
    """`keras2.Keras2Unavailable`, saying how to install tf-keras, for a Keras 2 mode run without it."""
    if keras == 2:
        keras2.require(f"the exercise {spec.id}" if spec.keras == 2 else f"this run of {spec.id} (--keras 2)")


def grade_submission(submission: Submission, spec: ExerciseSpec, expected: dict,
                     options: RunOptions) -> SubmissionResult:
    """One submission's result, with the versions that produced it in `meta["versions"]`."""
    result = _grade_submission(submission, spec, expected, options)
    return replace(result, meta={**result.meta, "versions": spec_versions(spec, options.keras)})


def spec_versions(spec: ExerciseSpec, keras: int | None = None) -> dict:
    """What a result was produced by, for a run in Keras `keras` mode (default: the spec's)."""
    keras = keras or spec.keras
    return run_versions(spec.id, expected_path(spec.reference, keras), keras)


def _grade_submission(submission: Submission, spec: ExerciseSpec, expected: dict,
                      options: RunOptions) -> SubmissionResult:
    mode = options.mode
    if submission.path is None:
        return error_result(spec, submission.name, "unknown", submission.problem, mode)
    suffix = submission.path.suffix
    if suffix not in SUBMISSION_SUFFIXES:
        return error_result(spec, submission.name, "unknown",
                            f"files ending in {suffix or '(nothing)'} cannot be graded; submit a .ipynb, .py or .keras file",
                            mode)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cnngrader-exports-") as exports:
        export_dir = Path(exports) if options.evaluation is not None else None
        evidence = run_submission(submission, spec, options, export_dir)
        artifacts, missing = {}, {}
        if options.evaluation is not None and evidence.invalid is None and not evidence.unwatched:
            grading = prepare_grading(spec, expected, evidence, submission.name, mode)
            files = evaluated_models(grading, Path(exports))
            if mode == "artifacts":
                artifacts, missing, uploaded = artifact_files(grading, submission.artifacts)
                files.update(uploaded)
            evidence = replace(evidence, evaluation=run_evaluation(files, options.evaluation, options.evaluation_timeout,
                                                                   options.isolation_level(), options.limits(),
                                                                   options.keras))
    result = evaluate(spec, expected, evidence, submission.name, mode, artifacts=artifacts, missing_artifacts=missing)
    return replace(result, meta={**result.meta, "seconds": round(time.monotonic() - started, 2),
                                 **_evaluation_meta(evidence)})


def run_submission(submission: Submission, spec: ExerciseSpec, options: RunOptions, export_dir: Path | None):
    """Run the submission in a process of its own; its evidence comes back."""
    suffix = submission.path.suffix
    if suffix in NOTEBOOK_SUFFIXES:
        return run_notebook(submission.path, options, export_dir)
    if suffix in MODULE_SUFFIXES:
        return run_module(submission.path, options, spec.entry_points, kind="module", export_dir=export_dir)
    return run_module(submission.path, options, (), kind="saved_model", export_dir=export_dir)


def _evaluation_meta(evidence) -> dict:
    evaluation = evidence.evaluation
    if evaluation is None:
        return {}
    return {"evaluation": {"images": evaluation.source, "seconds": evaluation.seconds,
                           "stopped": evaluation.stopped, "models": sorted(evaluation.models)}}


def grade_paths(paths: list[Path], exercise_id: str, out: Path, quick: bool = False,
                timeout: float | None = None, data_dir: str | None = None,
                memory_limit_bytes: int | None = 8 * 2**30, log=print, artifacts: bool = False,
                isolation: str | None = None, workers: int = 1, scheduler: str | None = None,
                force: bool = False, progress: bool = False, keras: int | None = None) -> int:
    """Grade every submission found under `paths` into `out`: each one's results.json and
    report.html, then the class summary (index.html), grades.csv and junit.xml.

    `workers` submissions are graded at once (each in processes of its own), or every submission
    is a task of the Dask cluster at `scheduler`. A submission whose inputs are unchanged since a
    results.json in `out` was written for them is not graded again (unless `force`): a batch
    stopped half-way resumes where it stopped. Each result is written as soon as it is known, and
    a line for it goes to `log` and to `out/grading.log`.

    Everything in `out` is written by this process from its own results: after the last
    submission every file is checked against what was written and rewritten where a submission
    changed it, so no run can alter its own grade or another's."""
    from . import parallel

    spec = load_spec(exercise_id)
    keras = keras or spec.keras
    try:
        _require_keras(spec, keras)
        verify_expected(spec.reference, keras=keras)
        detect(isolation)
    except (ExpectedFilesChanged, IsolationUnavailable, keras2.Keras2Unavailable) as error:
        log(f"cnngrader: {error}")
        return 2
    submissions = unique_names(find_submissions(paths, artifacts))
    if not submissions:
        log(f"cnngrader: nothing to grade in {', '.join(map(str, paths))}")
        return 1
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hidden = [out.resolve(), *([spec.holdout_path.resolve()] if spec.holdout_path else [])]
    batch = parallel.Batch(exercise_id, quick=quick, artifacts=artifacts, timeout=timeout, data_dir=data_dir,
                           memory_limit_bytes=memory_limit_bytes, isolation=isolation,
                           hidden=tuple(map(str, hidden)), keras=keras)
    versions = spec_versions(spec, keras)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    before = {entry.name for entry in out.iterdir()}
    hashes = {item.name: parallel.input_hash(item, batch, spec) for item in submissions}
    results: dict[str, SubmissionResult] = {}
    written: dict[str, dict[str, bytes]] = {}
    for item in submissions if not force else ():
        kept = parallel.kept_result(out / item.name, hashes[item.name])
        if kept is not None:
            results[item.name], written[item.name] = kept
    pending = [item for item in submissions if item.name not in results]
    clear(out / LOG_NAME)
    board = Progress(len(submissions), len(results), out / LOG_NAME, log, live=progress,
                     workers=None if scheduler else (workers or os.cpu_count()))
    if results:
        board.line(f"{len(results)} of {len(submissions)} unchanged since they were graded: kept "
                   f"(--force grades them again)")
    started = time.monotonic()
    failures = 0
    interrupted = False
    try:
        with parallel.executor(batch, workers, scheduler, board.line) as run:
            for submission, result in run(pending):
                trace = result.meta.get("grader_traceback")
                result = replace(result, meta={**{key: value for key, value in result.meta.items()
                                                  if key != "grader_traceback"}, "input_hash": hashes[submission.name]})
                if trace:
                    failures += 1
                    board.line(f"cnngrader: internal error on {submission.name}:\n{trace}")
                results[submission.name] = result
                written[submission.name] = publish(result, out / submission.name, _images(batch, spec))
                if len(submissions) == 1:
                    board.line(render_text(result))
                board.done(submission.name, total_score(result), max_score(result),
                           out / submission.name / "results.json", failed=bool(trace))
    except KeyboardInterrupt:
        interrupted = True
    except parallel.BatchUnavailable as error:
        board.close()
        log(f"cnngrader: {error}")
        return 2
    finally:
        board.close()
    for name, files in written.items():
        restored = restore(out / name, files)
        if restored:
            log(f"cnngrader: {name}: {', '.join(restored)} had been changed after grading; rewritten")
    for entry in sorted(out.iterdir()):
        if entry.name not in before and entry.name not in written and entry.name not in RESERVED_NAMES:
            clear(entry)  # made during the batch by nobody the grader knows: a submission's doing
            log(f"cnngrader: removed {entry.name} from {out}: the grader did not write it")
    run_record = {"exercise": spec.id, "title": spec.title, "mode": batch.mode, "keras": keras, "versions": versions,
                  "seconds": round(time.monotonic() - started, 2), "started": started_at}
    for name in RESERVED_NAMES - {LOG_NAME}:
        clear(out / name)
    ordered = [results[item.name] for item in submissions if item.name in results]
    summary = write_summary(ordered, out, run_record)
    write_grades_csv(ordered, out / "grades.csv")
    write_junit(ordered, out / "junit.xml")
    if interrupted:
        log(f"cnngrader: interrupted with {len(ordered)} of {len(submissions)} graded; every finished result is "
            f"kept: run the same command again to grade the rest")
        return 130
    log(f"class summary: {summary.resolve()} (grades.csv and junit.xml beside it)")
    return 1 if failures else 0


LOG_NAME = "grading.log"


def _images(batch, spec: ExerciseSpec):
    """The evaluation images the report shows beside a prediction (this process's own copy)."""
    from . import parallel

    if not needs_predictions(spec, batch.mode):
        return None
    return parallel.evaluation_images(batch)


def publish(result: SubmissionResult, folder: Path, images) -> dict[str, bytes]:
    """Write a submission's results.json and report.html into a folder made fresh for them
    (whatever was there, a planted file, a symlink, a read-only folder, goes first)."""
    clear(folder)
    write_results(result, folder)
    write_report(result, folder, images)
    return {name: (folder / name).read_bytes() for name in ("results.json", "report.html")}


def restore(folder: Path, files: dict[str, bytes]) -> list[str]:
    """Put back the files `publish` wrote if anything in the folder differs; the names changed."""
    changed = []
    for name, content in files.items():
        path = folder / name
        try:
            same = not path.is_symlink() and path.is_file() and path.read_bytes() == content
        except OSError:
            same = False
        if not same:
            changed.append(name)
    extra = folder.is_dir() and not folder.is_symlink() and {p.name for p in folder.iterdir()} - set(files)
    if changed or extra or folder.is_symlink() or not folder.is_dir():
        clear(folder)
        folder.mkdir(parents=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
    return changed or (["extra files"] if extra else [])


def clear(path: Path) -> None:
    """Remove whatever is at `path` (a link, a file, a folder made read-only), never following a link."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    if not path.exists():
        return

    def writable_then_retry(function, target, _info):
        os.chmod(os.path.dirname(target), 0o700)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, 0o700)
        function(target)

    for current, folders, _ in os.walk(path):
        for name in folders:
            try:
                os.chmod(os.path.join(current, name), 0o700, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
    os.chmod(path, 0o700)
    shutil.rmtree(path, onerror=writable_then_retry)
