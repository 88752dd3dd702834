"""Start the evaluation process and bring back its predictions as evidence.

The process (`evaluator.py`) runs no student code: a fresh interpreter in isolated mode (`-I`: no
working folder, user site or PYTHON* variables on its path), started in an empty folder of its
own, with its own time limit. It gets the model files and the images, never the labels; only
`.npy` arrays (read with `allow_pickle=False`) and JSON come back. Each file's config is also read
here, as JSON from the archive, so that a model Keras refuses can be explained (a Lambda layer, a
class defined in the notebook) without loading it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from ..data import EvaluationSet
from ..evidence import Evaluation, ModelEvaluation
from . import keras2, warm
from .limits import kill_tree
from .sandbox import Confinement, Isolation, Limits, detect

MAX_CONFIG_BYTES = 16 * 2**20


def run_evaluation(files: dict[str, Path], evaluation_set: EvaluationSet, timeout: float,
                   isolation: Isolation | None = None, limits: Limits | None = None,
                   keras: int = 3) -> Evaluation:
    """Predict `evaluation_set.images` with every file in `files` (key -> path) in one process,
    confined like the submission's own (the files it loads are the student's), under the
    submission's Keras (`keras`: 3, or 2 for tf-keras)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cnngrader-eval-") as folder:
        root = Path(folder)
        for name in ("work", "out", "models"):
            (root / name).mkdir()
        os.chmod(root, 0o755)
        np.save(root / "images.npy", evaluation_set.images, allow_pickle=False)
        copies = {}
        for index, (key, path) in enumerate(files.items()):
            copies[key] = root / "models" / f"{index}{Path(path).suffix}"
            shutil.copyfile(path, copies[key])
        config = {"images": str(root / "images.npy"), "out": str(root / "out"),
                  # Absolute: the process runs in a folder of its own.
                  "models": [{"key": key, "path": str(path)} for key, path in copies.items()],
                  "keras": keras}
        (root / "config.json").write_text(json.dumps(config))
        confinement = Confinement(isolation or detect(), root, root / "work", limits or Limits())
        with confinement:
            stopped = _run(root, timeout, confinement, keras)
        report = _read_report(root / "out" / "report.json")
        models = {key: _model_evaluation(key, path, report.get(key), root / "out" / f"{key}.npy")
                  for key, path in files.items()}
    if stopped is None and any(key not in report for key in files):
        stopped = "failed"
    return Evaluation(source=evaluation_set.source, labels=evaluation_set.labels, models=models,
                      stopped=stopped, seconds=round(time.monotonic() - started, 2), timeout=timeout)


def _run(root: Path, timeout: float, confinement: Confinement, keras: int) -> str | None:
    environment = {key: os.environ[key] for key in ("PATH", "LANG", "OMP_NUM_THREADS", "KERAS_BACKEND",
                                                    "CUDA_VISIBLE_DEVICES") if key in os.environ}
    if keras == 2:
        environment.update(keras2.ENVIRONMENT)
    environment.update({"HOME": str(root / "work"), "KERAS_HOME": str(root / "work" / ".keras"),
                        "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"})
    with open(root / "evaluator.log", "wb") as log:
        process = warm.popen(
            confinement.command([sys.executable, "-I", "-m", "grader.runner.evaluator", str(root / "config.json")]),
            cwd=root / "work", env=environment, stdout=log, stderr=log,
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(process.pid)
            process.wait()
            return "timeout"
        finally:
            confinement.end()
    return None if process.returncode == 0 else "failed"


def _read_report(path: Path) -> dict:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    models = report.get("models") if isinstance(report, dict) else None
    return {key: value for key, value in (models or {}).items() if isinstance(value, dict)}


def _model_evaluation(key: str, path: Path, entry: dict | None, predictions: Path) -> ModelEvaluation:
    config = read_model_config(path)
    refused = refused_layers(config) if config else ()
    if entry is None:
        return ModelEvaluation(key, path.name, problem="not evaluated", refused=refused, config=config)
    if not entry.get("ok"):
        problem = f"{entry.get('ename', 'Error')}: {entry.get('evalue', '')}".strip()
        return ModelEvaluation(key, path.name, problem=problem, stage=str(entry.get("stage", "load")),
                               refused=refused, config=config)
    try:
        scores = np.load(predictions, allow_pickle=False)
    except (OSError, ValueError) as error:
        return ModelEvaluation(key, path.name, problem=f"unreadable predictions: {error}", stage="predict",
                               refused=refused, config=config)
    return ModelEvaluation(key, path.name, predicted=scores.argmax(axis=1), refused=refused, config=config)


def read_model_config(path: Path) -> dict | None:
    """`{class_name, config}` of a saved model, read as JSON from the file (nothing is loaded)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                info = archive.getinfo("config.json")
                if info.file_size > MAX_CONFIG_BYTES:
                    return None
                data = json.loads(archive.read(info))
        elif path.suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as handle:
                raw = handle.attrs.get("model_config")
                data = json.loads(raw.decode() if isinstance(raw, bytes) else raw) if raw is not None else None
        else:
            return None
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("config"), dict) else None


def refused_layers(config: dict) -> tuple[tuple[str, str], ...]:
    """Lambda layers and classes from outside Keras anywhere in a saved config."""
    found: list[tuple[str, str]] = []

    def walk(value, depth: int = 0) -> None:
        if depth > 50:
            return
        if isinstance(value, dict):
            class_name, module = value.get("class_name"), value.get("module")
            if isinstance(class_name, str) and isinstance(value.get("config"), dict):
                name = str(value["config"].get("name", class_name))
                if class_name == "Lambda":
                    found.append(("Lambda", name))
                elif "registered_name" in value and _outside_keras(module, value.get("registered_name")):
                    found.append((class_name, name))
            for item in value.values():
                walk(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                walk(item, depth + 1)

    walk(config)
    return tuple(dict.fromkeys(found))


def _outside_keras(module, registered_name) -> bool:
    """A class Keras does not ship: Keras's own have a `keras...` module and no registered name;
    a class of the notebook's is saved with a registered name (`Scale`, `Custom>Scale`) and no
    module, or a module of its own."""
    if isinstance(module, str):
        return not module.startswith("keras")
    return isinstance(registered_name, str)
