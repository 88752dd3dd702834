"""Evidence: what happened when a submission ran, as plain data.

The runner produces it (from the kernel's messages and from the probe's JSON), the checks read
it. It judges nothing. `evidence_from_json` parses strictly: a malformed payload from the
student's process raises `EvidenceError`, which the grader turns into a diagnosis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class FitRecord:
    """One call of `fit`: requested and actual budget, and the history it returned."""

    cell: int | None
    model_id: int | None
    epochs_requested: int | None
    capped: bool
    history: dict = field(default_factory=dict)


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
    meta: dict = field(default_factory=dict)
    """Durations, data served to the kernel, quick-mode caps: for instructors."""

    @property
    def unwatched(self) -> bool:
        """The run went to its end but the probe's report is missing or unreadable: the grader,
        not the submission, failed, and nothing about the models can be judged."""
        return bool(self.meta.get("probe")) and self.stopped is None and self.invalid is None

    def errors(self) -> list[CellRun]:
        return [cell for cell in self.cells if cell.error is not None]


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
    )


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
    return {
        "models": models, "fits": fits, "saves": tuple(saves), "entry_points": entry_points,
        "errors": tuple(error_from_json(item, f"probe.errors[{i}]") for i, item in enumerate(errors)),
        "meta": data.get("meta") if isinstance(data.get("meta"), dict) else {},
    }
