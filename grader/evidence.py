"""Evidence: what happened when a submission ran, as plain data.

The runner produces it (from the kernel's messages and from the probe's JSON), the checks read
it. It judges nothing. `evidence_from_json` parses strictly: a malformed payload from the
student's process raises `EvidenceError`, which the grader turns into a diagnosis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SCHEMA = "cnngrader.evidence/1"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class EvidenceError(ValueError):
    """The payload that came back from the submission's process is not valid evidence."""


@dataclass(frozen=True)
class CellError:
    """An exception that escaped a cell (or a module import, or an entry point)."""

    ename: str
    evalue: str
    traceback: str = ""
    """The traceback as plain text (ANSI colours removed), for the instructor."""
    line: int | None = None
    """Line in the cell or file where it was raised, when known."""


@dataclass(frozen=True)
class CellRun:
    """One code cell as executed."""

    cell: int | None
    """1-based number among the notebook's code cells (what a student counts); None in a module."""
    source: str
    status: str
    """ok, error, timeout or not_run."""
    error: CellError | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class ModelRecord:
    """One Keras model that existed in the submission's process, as last seen."""

    id: int
    cell: int | None
    """Cell in which it was first seen (None for modules and saved models)."""
    names: tuple[str, ...]
    """Variables (or entry points) that held it, every one seen over the run."""
    class_name: str
    config: dict | None
    """`model.get_config()`, or None when Keras could not give one (see config_error)."""
    config_error: str | None = None
    reported: dict = field(default_factory=dict)
    """What Keras in the student's process says (layers, params). Never graded on its own."""
    origin: str = "built"
    """built, loaded (keras.models.load_model) or entry_point."""
    build_error: str | None = None
    """The error Keras raised while the model was being built, if any."""
    submodels: tuple[int, ...] = ()
    """Ids of the recorded models used inside this one as layers (a shared extractor)."""
    source_path: str | None = None
    """For a loaded model: the path it was loaded from."""


@dataclass(frozen=True)
class CallbackRecord:
    """A callback passed to `fit`, with the settings that decide which weights are kept."""

    class_name: str
    settings: dict = field(default_factory=dict)
    """monitor, patience, restore_best_weights, save_best_only, filepath, ..."""


@dataclass(frozen=True)
class FitRecord:
    """One call of `fit`: requested and actual budget, and the history it returned."""

    cell: int | None
    model_id: int | None
    epochs_requested: int | None
    capped: bool
    history: dict = field(default_factory=dict)
    """As reported by the submission's process: shown, never graded."""
    index: int | None = None
    """Order among the run's fits, 0-based; weight events name their fit by it."""
    callbacks: tuple[CallbackRecord, ...] = ()
    epochs_run: int | None = None
    """Epochs that ended (early stopping may end a fit before `epochs`)."""
    steps_per_epoch: int | None = None
    batch_size: int | None = None
    samples: int | None = None
    """Training samples passed to `fit`, when they were an array."""

    @property
    def steps(self) -> int | None:
        """Training steps run: the budget two fits are compared on."""
        if self.epochs_run is None or self.steps_per_epoch is None:
            return None
        return self.epochs_run * self.steps_per_epoch


@dataclass(frozen=True)
class WeightEvent:
    """A fingerprint of one model's weights at one moment of the run."""

    model_id: int
    event: str
    """initial (first seen with weights), fit_start, epoch_end, fit_end, save, load or export.
    A model nested in the one being trained gets its own epoch_end and fit_end."""
    digest: str
    """Hash of all the model's weight tensors: equal digests, equal weights."""
    tensors: tuple[tuple[str, str, float], ...] = ()
    """Per tensor: its path, its hash and its standard deviation."""
    cell: int | None = None
    path: str | None = None
    """For save and load: the file."""
    fit: int | None = None
    """For epoch_end and fit_end: the index of the fit."""
    epoch: int | None = None


@dataclass(frozen=True)
class Export:
    """A model the probe saved at the end of the run for the evaluation process."""

    model_id: int
    file: str | None
    """File name in the grader's export folder; None when saving failed."""
    error: str | None = None


@dataclass(frozen=True)
class ModelEvaluation:
    """What the evaluation process made of one model file: predictions, or why there are none."""

    key: str
    """`model-<id>` for a model the run exported, `artifact-<file>` for an uploaded file."""
    file: str
    predicted: "np.ndarray | None" = field(default=None, compare=False, hash=False)
    """The predicted class of every evaluation image (argmax of the model's output)."""
    problem: str | None = None
    """`Name: message` of the error that stopped loading or predicting."""
    stage: str | None = None
    """load or predict, where it failed."""
    refused: tuple[tuple[str, str], ...] = ()
    """(class, layer name) of each Lambda layer or class from outside Keras in the file's config:
    what `safe_mode` refuses to load."""
    config: dict | None = field(default=None, compare=False, hash=False)
    """The model's config as read from the file ({class_name, config}), without loading it."""


@dataclass(frozen=True)
class Evaluation:
    """Predictions the grader asked for, on images and against labels the grader holds."""

    source: str
    """Which images: `the Fashion-MNIST test set (10,000 images)`, a hold-out file, ..."""
    labels: dict = field(default_factory=dict, compare=False, hash=False)
    """Label set name (default, coarse, fine) -> the true class of every image."""
    models: dict = field(default_factory=dict)
    """Key -> ModelEvaluation."""
    stopped: str | None = None
    """timeout when the process ran out of time, failed when it died; None when it finished."""
    seconds: float = 0.0
    timeout: float | None = None
    """The time limit the process ran under."""

    def of_model(self, model_id: int) -> "ModelEvaluation | None":
        return self.models.get(f"model-{model_id}")

    def accuracy(self, key: str, label_set: str = "default") -> float | None:
        """Share of images whose predicted class is the true one; None when not measured."""
        evaluation = self.models.get(key)
        labels = self.labels.get(label_set)
        if evaluation is None or evaluation.predicted is None or labels is None:
            return None
        if len(evaluation.predicted) != len(labels):
            return None
        return float((evaluation.predicted == labels).mean())


@dataclass(frozen=True)
class Evidence:
    """Everything the runner brought back from one submission."""

    kind: str
    """notebook, module or saved_model."""
    cells: tuple[CellRun, ...] = ()
    models: tuple[ModelRecord, ...] = ()
    fits: tuple[FitRecord, ...] = ()
    saves: tuple[dict, ...] = ()
    """Each model.save call: {cell, path, ok, error}."""
    stopped: str | None = None
    """None when the run completed; else timeout, kernel_died or memory_limit."""
    stopped_detail: str = ""
    stopped_cell: int | None = None
    invalid: str | None = None
    """Why the submission could not be read at all (invalid notebook, unloadable file)."""
    entry_points: dict = field(default_factory=dict)
    """For modules: entry point name -> 'ok', 'missing' or 'error'."""
    weights: tuple[WeightEvent, ...] = ()
    exports: tuple[Export, ...] = ()
    evaluation: Evaluation | None = None
    """None when nothing was evaluated (quick mode, or no check needs predictions)."""
    meta: dict = field(default_factory=dict)
    """Durations, data served to the kernel, quick-mode caps: for instructors."""

    @property
    def unwatched(self) -> bool:
        """The run went to its end but the probe's report is missing or unreadable: the grader,
        not the submission, failed, and nothing about the models can be judged."""
        return bool(self.meta.get("probe")) and self.stopped is None and self.invalid is None

    def errors(self) -> list[CellRun]:
        return [cell for cell in self.cells if cell.error is not None]

    def weight_events(self, model_id: int) -> list[WeightEvent]:
        return [event for event in self.weights if event.model_id == model_id]

    def record(self, model_id: int) -> ModelRecord | None:
        return next((record for record in self.models if record.id == model_id), None)


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def _require(data: dict, key: str, kind, where: str):
    value = data.get(key)
    if not isinstance(value, kind):
        raise EvidenceError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def _optional(data: dict, key: str, kind, where: str):
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise EvidenceError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)} or null")
    return value


def error_from_json(data: dict | None, where: str) -> CellError | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise EvidenceError(f"{where}: expected an object")
    return CellError(
        ename=_require(data, "ename", str, where),
        evalue=_require(data, "evalue", str, where),
        traceback=strip_ansi(_optional(data, "traceback", str, where) or ""),
        line=_optional(data, "line", int, where),
    )


def model_from_json(data: dict, index: int) -> ModelRecord:
    where = f"models[{index}]"
    if not isinstance(data, dict):
        raise EvidenceError(f"{where}: expected an object")
    names = _require(data, "names", list, where)
    if not all(isinstance(name, str) for name in names):
        raise EvidenceError(f"{where}.names: expected strings")
    return ModelRecord(
        id=_require(data, "id", int, where),
        cell=_optional(data, "cell", int, where),
        names=tuple(names),
        class_name=_require(data, "class_name", str, where),
        config=_optional(data, "config", dict, where),
        config_error=_optional(data, "config_error", str, where),
        reported=_optional(data, "reported", dict, where) or {},
        origin=_optional(data, "origin", str, where) or "built",
        build_error=_optional(data, "build_error", str, where),
        submodels=tuple(_integers(data, "submodels", where)),
        source_path=_optional(data, "source_path", str, where),
    )


def _integers(data: dict, key: str, where: str) -> list[int]:
    values = _optional(data, key, list, where) or []
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        raise EvidenceError(f"{where}.{key}: expected integers")
    return values


def callback_from_json(data, where: str) -> CallbackRecord:
    if not isinstance(data, dict):
        raise EvidenceError(f"{where}: expected an object")
    settings = _optional(data, "settings", dict, where) or {}
    if not all(isinstance(v, (bool, int, float, str)) for v in settings.values()):
        raise EvidenceError(f"{where}.settings: expected plain values")
    return CallbackRecord(_require(data, "class_name", str, where), settings)


def weight_event_from_json(data, index: int) -> WeightEvent:
    where = f"weights[{index}]"
    if not isinstance(data, dict):
        raise EvidenceError(f"{where}: expected an object")
    tensors = []
    for item in _require(data, "tensors", list, where):
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and isinstance(item[1], str) and isinstance(item[2], (int, float))):
            raise EvidenceError(f"{where}.tensors: expected [path, hash, std] triples")
        tensors.append((item[0], item[1], float(item[2])))
    return WeightEvent(
        model_id=_require(data, "model_id", int, where), event=_require(data, "event", str, where),
        digest=_require(data, "digest", str, where), tensors=tuple(tensors),
        cell=_optional(data, "cell", int, where), path=_optional(data, "path", str, where),
        fit=_optional(data, "fit", int, where), epoch=_optional(data, "epoch", int, where),
    )


def export_from_json(data, index: int) -> Export:
    where = f"exports[{index}]"
    if not isinstance(data, dict):
        raise EvidenceError(f"{where}: expected an object")
    file = _optional(data, "file", str, where)
    if file is not None and (not file or file != file.strip() or "/" in file or file.startswith(".")):
        raise EvidenceError(f"{where}.file: expected a plain file name")
    return Export(_require(data, "model_id", int, where), file, _optional(data, "error", str, where))


def fit_from_json(data: dict, index: int) -> FitRecord:
    where = f"fits[{index}]"
    if not isinstance(data, dict):
        raise EvidenceError(f"{where}: expected an object")
    return FitRecord(
        cell=_optional(data, "cell", int, where),
        model_id=_optional(data, "model_id", int, where),
        epochs_requested=_optional(data, "epochs_requested", int, where),
        capped=bool(data.get("capped", False)),
        history=_optional(data, "history", dict, where) or {},
        index=_optional(data, "index", int, where),
        callbacks=tuple(callback_from_json(item, f"{where}.callbacks[{i}]")
                        for i, item in enumerate(_optional(data, "callbacks", list, where) or [])),
        epochs_run=_optional(data, "epochs_run", int, where),
        steps_per_epoch=_optional(data, "steps_per_epoch", int, where),
        batch_size=_optional(data, "batch_size", int, where),
        samples=_optional(data, "samples", int, where),
    )


def probe_payload_from_json(data) -> dict:
    """Parse what the probe wrote inside the submission's process: models, fits, saves."""
    if not isinstance(data, dict):
        raise EvidenceError("probe payload: expected an object")
    if data.get("schema") != SCHEMA:
        raise EvidenceError(f"probe payload: schema {data.get('schema')!r}, expected {SCHEMA!r}")
    models = tuple(model_from_json(item, i) for i, item in enumerate(_require(data, "models", list, "probe")))
    fits = tuple(fit_from_json(item, i) for i, item in enumerate(data.get("fits") or []))
    saves = data.get("saves") or []
    if not isinstance(saves, list) or not all(isinstance(item, dict) for item in saves):
        raise EvidenceError("probe.saves: expected a list of objects")
    entry_points = data.get("entry_points") or {}
    if not isinstance(entry_points, dict):
        raise EvidenceError("probe.entry_points: expected an object")
    errors = data.get("errors") or []
    if not isinstance(errors, list):
        raise EvidenceError("probe.errors: expected a list")
    weights = tuple(weight_event_from_json(item, i) for i, item in enumerate(_optional(data, "weights", list, "probe") or []))
    exports = tuple(export_from_json(item, i) for i, item in enumerate(_optional(data, "exports", list, "probe") or []))
    return {
        "models": models, "fits": fits, "saves": tuple(saves), "entry_points": entry_points,
        "weights": weights, "exports": exports,
        "errors": tuple(error_from_json(item, f"probe.errors[{i}]") for i, item in enumerate(errors)),
        "meta": data.get("meta") if isinstance(data.get("meta"), dict) else {},
    }
