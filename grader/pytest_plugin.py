"""The student self-check as a pytest plugin (registered with the `pytest11` entry point).

    pytest --notebook my_work.ipynb exercises/fashion_cnn        # from a clone
    pytest --notebook my_work.ipynb --exercise fashion_cnn       # wherever cnngrader is installed

One item per public check of the exercise, graded in quick mode by `grader.selfcheck`. The
notebook is graded once, by the first item that runs; each item then passes, fails or skips
with its check's outcome, and a failure reads as the student's feedback (feedback.check_lines),
never as a traceback. Without --notebook the plugin does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .exercises import CheckSpec, ExerciseSpec, SpecError, load_spec
from .results import CheckResult, Outcome, SubmissionResult


@dataclass
class SelfCheck:
    """What this session checks, and each exercise's result once graded."""

    notebook: Path
    exercise: ExerciseSpec | None
    """The --exercise form's spec; None when exercise folders are collected from the paths."""
    results: dict = field(default_factory=dict)
    """Exercise id -> its SubmissionResult, or the message saying why it could not be graded."""


SELF_CHECK = pytest.StashKey[SelfCheck]()


class CheckNotPassed(Exception):
    """A public check failed or could not be judged; carries its CheckResult."""


class GradingUnavailable(Exception):
    """The notebook could not be graded at all (no dataset where the grader looks)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnngrader", "cnngrader self-check of an exercise's public checks (quick mode)")
    group.addoption("--notebook", metavar="PATH", default=None,
                    help="your notebook (.ipynb) or module (.py): run the public checks of the exercise "
                         "given by its folder (exercises/<id>) or by --exercise")
    group.addoption("--exercise", metavar="ID", default=None,
                    help="the exercise to check --notebook against (see `cnngrader exercises`), "
                         "instead of an exercise folder")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    notebook, exercise_id = config.getoption("notebook"), config.getoption("exercise")
    if notebook is None:
        if exercise_id is not None:
            raise pytest.UsageError("--exercise needs --notebook PATH (your notebook)")
        return
    path = Path(notebook)
    if not path.is_file():
        raise pytest.UsageError(f"--notebook {notebook}: no such file")
    given_paths = config.args_source is pytest.Config.ArgsSource.ARGS
    spec = None
    if exercise_id is not None:
        if given_paths:
            raise pytest.UsageError("give the exercise either as a folder (exercises/<id>) or as --exercise ID, not both")
        try:
            spec = load_spec(exercise_id)
        except SpecError as error:
            raise pytest.UsageError(str(error)) from None
        config.args = [str(spec.folder / "exercise.toml")]
    elif not given_paths:
        raise pytest.UsageError("which exercise? pass its folder (pytest --notebook PATH exercises/<id>) "
                                "or its id (--exercise ID)")
    config.stash[SELF_CHECK] = SelfCheck(path.resolve(), spec)
    _grade_in_this_process(config)


def _grade_in_this_process(config: pytest.Config) -> None:
    """One grading per session: xdist workers (the clone's addopts say `-n auto`) would each
    grade the notebook again. xdist reads these options in its own (trylast) pytest_configure."""
    if config.pluginmanager.hasplugin("xdist"):
        config.option.numprocesses = 0
        config.option.dist = "no"
        config.option.tx = []


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    run = parent.config.stash.get(SELF_CHECK, None)
    if run is None or file_path.name != "exercise.toml":
        return None
    if run.exercise is not None:
        return ExerciseFile.from_parent(parent, path=file_path, nodeid=run.exercise.id, spec=run.exercise)
    return ExerciseFile.from_parent(parent, path=file_path)


class ExerciseFile(pytest.File):
    """An exercise's spec; its items are the public checks."""

    def __init__(self, *, spec: ExerciseSpec | None = None, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec

    def collect(self):
        if self.spec is None:
            try:
                self.spec = load_spec(self.path.parent.name, root=self.path.parent.parent)
            except SpecError as error:
                raise self.CollectError(str(error)) from None
        for index, check in enumerate(self.spec.checks):
            if check.visibility == "visible":
                yield CheckItem.from_parent(self, name=item_name(check), index=index)


def item_name(check: CheckSpec) -> str:
    """`architecture[cnn]` for a check that exists once per model, else the check id."""
    return f"{check.id}[{check.model}]" if check.model else check.id


class CheckItem(pytest.Item):
    """One public check: its outcome in the self-check's result."""

    def __init__(self, *, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        check = graded(self.config, self.parent.spec).checks[self.index]
        if check.outcome is Outcome.SKIPPED:
            raise pytest.skip.Exception(check.summary or "skipped", _use_item_location=True)
        if check.outcome is not Outcome.PASSED:
            raise CheckNotPassed(check)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckNotPassed):
            return "\n".join(failure_lines(excinfo.value.args[0]))
        if isinstance(excinfo.value, GradingUnavailable):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, self.parent.spec.checks[self.index].name


def failure_lines(check: CheckResult) -> list[str]:
    """What a student reads for a check that did not pass: its name, outcome and score, then the
    shared lines of feedback.check_lines (summary, each diagnosis with its fix)."""
    from .report.feedback import OUTCOME_WORDS, check_lines

    return [f"{check.name}: {OUTCOME_WORDS[check.outcome]}, {check.score:g} / {check.max_score:g} points",
            *check_lines(check)]


def graded(config: pytest.Config, spec: ExerciseSpec) -> SubmissionResult:
    """The notebook's result for this exercise, graded the first time an item asks."""
    from .data import DataUnavailable
    from .runner.keras2 import Keras2Unavailable
    from .selfcheck import grade_for_self_check

    run = config.stash[SELF_CHECK]
    if spec.id not in run.results:
        try:
            run.results[spec.id] = grade_for_self_check(run.notebook, spec)
        except (DataUnavailable, Keras2Unavailable) as error:
            run.results[spec.id] = f"cnngrader could not grade {run.notebook.name}: {error}"
    result = run.results[spec.id]
    if isinstance(result, str):
        raise GradingUnavailable(result)
    return result


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    from .report.feedback import hidden_note

    run = config.stash.get(SELF_CHECK, None)
    for result in (run.results.values() if run else ()):
        note = isinstance(result, SubmissionResult) and hidden_note(result)
        if note:
            terminalreporter.write_line(note)
