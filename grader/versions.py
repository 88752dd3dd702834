"""What produced a result: recorded in every results.json, page and export, so a grade can be
traced back to the grader, the libraries, the machine and the expected answers it was judged by.

Read without importing TensorFlow (package metadata and /proc), so it costs nothing per batch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path

import grader

TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tf-nightly")


def run_versions(exercise_id: str, expected_path: Path, keras: int = 3) -> dict:
    """cnngrader, Python, TensorFlow, the Keras the submissions ran under (tf-keras in Keras 2
    mode), the device, the exercise and its expected file (`keras2/<id>.json` for the Keras 2
    records) with its hash."""
    return {
        "cnngrader": grader.__version__,
        "python": platform.python_version(),
        "tensorflow": _first_installed(TENSORFLOW_DISTRIBUTIONS),
        "keras": _first_installed(("tf-keras",) if keras == 2 else ("keras",)),
        "keras_mode": keras,
        "device": device_description(),
        "exercise": exercise_id,
        "expected_file": "/".join(expected_path.parts[-2:]) if expected_path.parent.name == "keras2"
        else expected_path.name,
        "expected_sha256": hashlib.sha256(expected_path.read_bytes()).hexdigest(),
    }


def device_description() -> str:
    """'x86_64, 2 CPU cores' and, where the NVIDIA driver lists any, the GPUs' models."""
    text = f"{platform.machine() or 'unknown machine'}, {os.cpu_count() or '?'} CPU cores"
    gpus = sorted(_nvidia_models())
    return text + (f", GPU: {', '.join(gpus)}" if gpus else "")


def visible_gpus() -> list[tuple[str, str]]:
    """(number, model) of each NVIDIA GPU the driver lists, in CUDA_VISIBLE_DEVICES where it is
    set (numbers only); none on a machine without the driver."""
    found = []
    for information in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        fields = dict(line.split(":", 1) for line in information.read_text(errors="replace").splitlines() if ":" in line)
        minor = fields.get("Device Minor", "").strip()
        found.append((minor or str(len(found)), fields.get("Model", "GPU").strip()))
    wanted = os.environ.get("CUDA_VISIBLE_DEVICES")
    if wanted is not None:
        numbers = [item.strip() for item in wanted.split(",") if item.strip().isdigit()]
        found = [gpu for gpu in found if gpu[0] in numbers]
    return found


def _nvidia_models() -> list[str]:
    models = []
    for information in Path("/proc/driver/nvidia/gpus").glob("*/information"):
        for line in information.read_text(errors="replace").splitlines():
            if line.startswith("Model:"):
                models.append(line.split(":", 1)[1].strip())
    return models


def _first_installed(distributions: tuple[str, ...]) -> str:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"
