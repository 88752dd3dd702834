"""Exercise specs: `exercises/<id>/exercise.toml`, read with the standard library.

A spec says what is graded (the ordered list of checks with their points), which reference and
expected file hold the right answer, which names the student's models may have, and which data
the submission's process is given. A bad spec is the instructor's error and raises `SpecError`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .resources import exercises_dir

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


CHECK_FIELDS = ("id", "name", "points", "model", "visibility")


class SpecError(ValueError):
    """An exercise spec is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class ModelSpec:
    """A model the exercise asks for."""

    key: str
    """Key into the expected file's `models`."""
    title: str
    """How feedback names it ("the Fashion-MNIST CNN")."""
    names: tuple[str, ...]
    """Variable names that may hold it in a notebook."""
    entry_point: str | None = None
    """Function a module submission defines to build it."""
    output_classes: int | None = None
    """Classes the last layer must output, where the data decide it."""
    metric: str | None = None
    """Key of its accuracy in the expected file's `thresholds` (`cnn.test_accuracy`)."""
    labels: str = "default"
    """Which labels of the evaluation set it predicts (default, coarse, fine)."""
    artifact: str | None = None
    """The file it is saved to, which a student uploads in --artifacts mode."""


@dataclass(frozen=True)
class CheckSpec:
    """One graded check, in the order it appears in the results."""

    id: str
    name: str
    points: float
    model: str | None = None
    visibility: str = "visible"
    options: dict = field(default_factory=dict, compare=False, hash=False)
    """The check's own settings from the spec (the callbacks expected, the order of models)."""


@dataclass(frozen=True)
class ExerciseSpec:
    id: str
    title: str
    summary: str
    reference: str
    dataset: str
    models: tuple[ModelSpec, ...]
    checks: tuple[CheckSpec, ...]
    seeds: tuple[str, ...] = ()
    provided_data: str | None = None
    cell_timeout: float = 600.0
    quick_cell_timeout: float = 60.0
    """The cell limit of --quick: a self-check never waits minutes on one cell."""
    submission_timeout: float = 1800.0
    evaluation_timeout: float = 300.0
    """Seconds the evaluation process may take to load and predict every model."""
    holdout: str | None = None
    """A private .npz (x, y) evaluated instead of the public test set; never given to the submission."""
    keras: int = 3
    """The Keras the course is written for: 3, or 2 (graded under tf-keras, as a Keras 2 course
    ran; `cnngrader grade --keras` overrides it for a run)."""
    folder: Path | None = None

    def model(self, key: str) -> ModelSpec:
        for model in self.models:
            if model.key == key:
                return model
        raise SpecError(f"{self.id}: no model {key!r}")

    @property
    def entry_points(self) -> tuple[str, ...]:
        return tuple(model.entry_point for model in self.models if model.entry_point)

    @property
    def holdout_path(self) -> Path | None:
        if self.holdout is None:
            return None
        path = Path(self.holdout)
        return path if path.is_absolute() or self.folder is None else self.folder / path

    @property
    def starter(self) -> Path | None:
        if self.folder is None:
            return None
        path = self.folder / "starter.ipynb"
        return path if path.is_file() else None


def load_spec(exercise_id: str, root: Path | None = None) -> ExerciseSpec:
    folder = (root or exercises_dir()) / exercise_id
    path = folder / "exercise.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in (root or exercises_dir()).iterdir() if (p / "exercise.toml").is_file()))
        raise SpecError(f"unknown exercise {exercise_id!r} (no {path}); known: {known}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: {error}") from None
    return parse_spec(data, folder)


def parse_spec(data: dict, folder: Path | None = None) -> ExerciseSpec:
    where = data.get("id", "<spec>")
    try:
        models = tuple(
            ModelSpec(
                key=str(item["key"]), title=str(item.get("title", item["key"])),
                names=tuple(item.get("names", ())), entry_point=item.get("entry_point"),
                output_classes=item.get("output_classes"), metric=item.get("metric"),
                labels=str(item.get("labels", "default")), artifact=item.get("artifact"),
            )
            for item in data.get("models", [])
        )
        checks = tuple(
            CheckSpec(id=str(item["id"]), name=str(item.get("name", item["id"])),
                      points=float(item["points"]), model=item.get("model"),
                      visibility=str(item.get("visibility", "visible")),
                      options={k: v for k, v in item.items() if k not in CHECK_FIELDS})
            for item in data["checks"]
        )
        spec = ExerciseSpec(
            id=str(data["id"]), title=str(data["title"]), summary=str(data.get("summary", "")).strip(),
            reference=str(data["reference"]), dataset=str(data["dataset"]), models=models, checks=checks,
            seeds=tuple(data.get("seeds", ())), provided_data=data.get("provided_data"),
            cell_timeout=float(data.get("cell_timeout", 600)),
            quick_cell_timeout=float(data.get("quick_cell_timeout", 60)),
            submission_timeout=float(data.get("submission_timeout", 1800)),
            evaluation_timeout=float(data.get("evaluation_timeout", 300)),
            holdout=data.get("holdout"), keras=_keras_mode(data.get("keras", 3), where), folder=folder,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SpecError(f"exercise {where}: bad or missing field ({error})") from None
    _validate(spec)
    return spec


def _keras_mode(value, where: str) -> int:
    if isinstance(value, bool) or value not in (2, 3, "2", "3"):
        raise SpecError(f"exercise {where}: keras = {value!r}; write `keras = 2` (a course written for "
                        "Keras 2, graded under tf-keras) or `keras = 3` (the default)")
    return int(value)


def _validate(spec: ExerciseSpec) -> None:
    from .checks.registry import CHECKS

    keys = {model.key for model in spec.models}
    for check in spec.checks:
        if check.id not in CHECKS:
            raise SpecError(f"{spec.id}: unknown check {check.id!r}; known: {', '.join(CHECKS)}")
        if CHECKS[check.id].names_model and check.model not in keys:
            raise SpecError(f"{spec.id}: {check.id} check names model {check.model!r}, not in [[models]]")
        for model_key in CHECKS[check.id].models_in(check):
            if model_key not in keys:
                raise SpecError(f"{spec.id}: {check.id} check names model {model_key!r}, not in [[models]]")
        missing = [option for option in CHECKS[check.id].required_options if option not in check.options]
        if missing:
            raise SpecError(f"{spec.id}: {check.id} check needs {', '.join(missing)}")
        if CHECKS[check.id].needs_metric and not spec.model(check.model).metric:
            raise SpecError(f"{spec.id}: model {check.model!r} needs a `metric` (its thresholds' key) "
                            f"for the {check.id} check")
        if check.visibility not in VISIBILITIES:
            raise SpecError(f"{spec.id}: visibility {check.visibility!r} is not one of {VISIBILITIES}")
        if check.points < 0:
            raise SpecError(f"{spec.id}: check {check.name!r} has negative points")


def load_all(root: Path | None = None) -> list[ExerciseSpec]:
    base = root or exercises_dir()
    return [load_spec(folder.name, base) for folder in sorted(base.iterdir()) if (folder / "exercise.toml").is_file()]
