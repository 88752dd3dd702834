"""Record and read what a correct answer looks like: `reference/expected/<id>.json`.

Recording builds every documented model, recomputes its layer table from the config (and checks
it against what Keras itself computes), trains it over several seeds as the seed notebook does,
and writes the metrics and the thresholds derived from them by the rule in `reference/__init__`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .layers import LayerRow, LayerTable, table_from_config
from .resources import expected_dir, load_reference_module

SCHEMA = "cnngrader.expected/1"
EXERCISE_IDS = ("fashion_cnn", "fashion_pooling", "fashion_conv_intro", "mnist_models", "cnn_transfer")


class ReferenceMismatch(AssertionError):
    """Our recomputed table disagrees with Keras for a reference model: a bug in layers.py."""


def keras_table(model) -> LayerTable:
    """Recompute a built Keras model's table from its config, and verify it against Keras."""
    class_name = "Sequential" if type(model).__name__ == "Sequential" else "Functional"
    table = table_from_config(class_name, model.get_config())
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    for row, layer in zip(table.rows, layers):
        keras_shape = tuple(layer.output.shape)
        if row.output_shape != keras_shape or row.params != layer.count_params():
            raise ReferenceMismatch(
                f"{model.name}/{layer.name}: recomputed {row.output_shape}, {row.params} params; "
                f"Keras says {keras_shape}, {layer.count_params()}"
            )
    if table.params != model.count_params() or len(table.rows) != len(layers):
        raise ReferenceMismatch(f"{model.name}: totals differ from Keras ({table.params} vs {model.count_params()})")
    return table


def model_entries(exercise_id: str) -> dict[str, dict]:
    """Every documented model of an exercise as an expected-file entry (no training)."""
    import keras

    module = load_reference_module(exercise_id)
    entries = {}
    for key, builder in module.MODELS.items():
        keras.backend.clear_session()  # layer names as a fresh session gives them: conv2d, conv2d_1, ...
        table = keras_table(builder())
        entries[key] = {"description": module.DESCRIPTIONS.get(key, ""), **table.to_json()}
    for key, config_of in getattr(module, "KNOWN_WRONG", {}).items():
        table = table_from_config("Sequential", config_of())
        collapse = table.collapse
        entries[key] = {
            "description": "known wrong answer: Keras cannot build it",
            "known_wrong": True,
            **table.to_json(),
            "collapse": {"layer": collapse.layer, "size_in": list(collapse.size_in),
                         "window": list(collapse.window)} if collapse else None,
        }
    return entries


def record(exercise_id: str, seeds: int = 3, epochs_cap: int | None = None,
            train_limit: int | None = None, data_dir: str | None = None,
            out_dir: Path | None = None, report: Callable[[str], None] = print) -> Path:
    """Train the exercise's reference over `seeds` seeds and write its expected file."""
    module = load_reference_module(exercise_id)
    package = sys.modules[module.__name__.rsplit(".", 1)[0]]
    models = model_entries(exercise_id)
    runs = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"cnngrader-ref-{exercise_id}-") as workdir:
        for index in range(seeds):
            seed_started = time.monotonic()
            run = package.RunOptions(
                data_dir=data_dir, epochs_cap=epochs_cap, train_limit=train_limit,
                workdir=Path(workdir), report=report, label=f"[{exercise_id} seed {index + 1}/{seeds}]",
            )
            metrics = module.train(index, run)
            seconds = time.monotonic() - seed_started
            runs.append({"seed": index, "metrics": metrics, "seconds": round(seconds, 1)})
            left = (time.monotonic() - started) / (index + 1) * (seeds - index - 1)
            report(f"[{exercise_id} seed {index + 1}/{seeds}] done in {seconds / 60:.1f} min; "
                   f"about {left / 60:.1f} min left for this exercise")
    expected = {
        "schema": SCHEMA,
        "exercise": exercise_id,
        "models": models,
        "training": {"settings": module.TRAINING, "runs": runs},
        "metrics": summarise(runs),
        "thresholds": {name: package.threshold_for([r["metrics"][name] for r in runs])
                       for name in module.GRADED_METRICS},
        "data": data_provenance(exercise_id, data_dir),
        "environment": environment(),
        "recorded": {
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seeds": seeds,
            "epochs_cap": epochs_cap,
            "train_limit": train_limit,
            "full": epochs_cap is None and train_limit is None,
            "minutes": round((time.monotonic() - started) / 60, 1),
        },
    }
    target = (out_dir or expected_dir()) / f"{exercise_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(expected, indent=1) + "\n")
    write_manifest(target.parent)
    return target


def refresh_tables(exercise_id: str, out_dir: Path | None = None) -> Path:
    """Rewrite only the `models` section of an expected file: no training, metrics kept."""
    target = (out_dir or expected_dir()) / f"{exercise_id}.json"
    expected = load_expected(exercise_id, out_dir)
    expected["models"] = model_entries(exercise_id)
    target.write_text(json.dumps(expected, indent=1) + "\n")
    write_manifest(target.parent)
    return target


MANIFEST = "SHA256SUMS"


class ExpectedFilesChanged(RuntimeError):
    """An expected file differs from the hash `reference record` wrote for it."""


def write_manifest(directory: Path) -> Path:
    """`SHA256SUMS` beside the expected files, in `sha256sum` format (`sha256sum -c` reads it)."""
    lines = [f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}"
             for path in sorted(Path(directory).glob("*.json"))]
    target = Path(directory) / MANIFEST
    target.write_text("\n".join(lines) + "\n")
    return target


def verify_expected(exercise_id: str, directory: Path | None = None, keras: int = 3) -> None:
    """Stop unless `<id>.json` (in `directory`, else the one Keras `keras` mode grades against)
    has the hash the manifest beside it records: an expected file changed by hand, or by a
    student's run, must not grade a class."""
    directory = Path(directory or expected_folder(exercise_id, keras))
    manifest = directory / MANIFEST
    name = f"{exercise_id}.json"
    try:
        recorded = dict(reversed(line.split(None, 1)) for line in manifest.read_text().splitlines() if line.strip())
    except (OSError, ValueError):
        raise ExpectedFilesChanged(f"{manifest} is missing or unreadable, so {name} cannot be checked; "
                                   "run `cnngrader reference record` (or restore the file from git)") from None
    try:
        actual = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    except OSError as error:
        raise ExpectedFilesChanged(f"{directory / name} cannot be read ({error.strerror})") from None
    if recorded.get(name) != actual:
        raise ExpectedFilesChanged(
            f"{directory / name} is not the file `cnngrader reference record` wrote (its SHA-256 is not the "
            f"one in {manifest}); restore it from git, or record it again, before grading")


def summarise(runs: list[dict]) -> dict[str, dict]:
    names = sorted({name for run in runs for name in run["metrics"]})
    summary = {}
    for name in names:
        values = [run["metrics"][name] for run in runs if name in run["metrics"]]
        summary[name] = {"values": values, "min": min(values), "mean": statistics.fmean(values),
                         "max": max(values)}
    return summary


def data_provenance(exercise_id: str, data_dir: str | None) -> dict:
    from . import data

    if exercise_id == "mnist_models":
        try:
            data.load_mnist(data_dir, download=False)
            return {"dataset": "mnist", "subset": "full"}
        except data.DataUnavailable:
            return {"dataset": "mnist", "subset": "mnist-10k (8,000 train / 2,000 test of the MNIST test set)"}
    if exercise_id == "cnn_transfer":
        try:
            data.load_cifar100(data_dir, download=False)
            return {"dataset": "cifar100", "subset": "mammal superclasses"}
        except data.DataUnavailable:
            return {"dataset": "fashion_mnist", "subset": "padded 32x32x3 stand-in, 7,500 / 1,500"}
    return {"dataset": "fashion_mnist", "subset": "full"}


def environment() -> dict:
    import keras

    device = "cpu"
    try:
        import tensorflow as tf

        tensorflow_version = tf.__version__
        if tf.config.list_physical_devices("GPU"):
            device = "gpu"
    except ImportError:
        tensorflow_version = None
    return {
        "tensorflow": tensorflow_version,
        "keras": keras.__version__,
        "keras_mode": 2 if keras.__name__ == "tf_keras" else 3,
        "backend": keras.backend.backend(),
        "device": device,
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


KERAS2_FOLDER = "keras2"
"""Where `reference record --keras 2` writes, inside the expected files' folder: the same
exercises recorded under tf-keras (their tables and parameter counts are the Keras 3 ones, their
accuracies within a point: tests/test_keras2.py). Keras 2 mode grades against them: thresholds
come from the reference trained under the Keras the submissions run under."""


def expected_folder(exercise_id: str, keras: int = 3) -> Path:
    """The folder of the expected file a run in Keras `keras` mode grades against: `keras2/`
    where the exercise was recorded there, else the Keras 3 records (the same tables)."""
    if keras == 2 and (expected_dir() / KERAS2_FOLDER / f"{exercise_id}.json").is_file():
        return expected_dir() / KERAS2_FOLDER
    return expected_dir()


def expected_path(exercise_id: str, keras: int = 3) -> Path:
    """The expected file a run in Keras `keras` mode grades against (see `expected_folder`)."""
    return expected_folder(exercise_id, keras) / f"{exercise_id}.json"


def use_keras2() -> None:
    """Make this process's Keras tf-keras (`import keras` included), before anything imports
    Keras: what `reference record --keras 2` records under."""
    import os

    from .runner import keras2

    keras2.require("recording in Keras 2 mode")
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise RuntimeError("TensorFlow was imported before Keras 2 mode was set up")
    os.environ.update(keras2.ENVIRONMENT)
    keras2.alias()


def load_expected(exercise_id: str, directory: Path | None = None, keras: int = 3) -> dict:
    """The expected file in `directory`, else the one a run in Keras `keras` mode grades against."""
    path = (directory or expected_folder(exercise_id, keras)) / f"{exercise_id}.json"
    expected = json.loads(path.read_text())
    if expected.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {expected.get('schema')!r}, expected {SCHEMA!r}")
    return expected


def expected_rows(entry: dict) -> tuple[LayerRow, ...]:
    return tuple(LayerRow.from_json(layer) for layer in entry["layers"])


def format_table(key: str, entry: dict) -> str:
    """A model's expected table as text, like `model.summary()` with the settings that matter."""
    lines = [f"{key}: {entry.get('description', '')}",
             f"  {'layer':<24}{'class':<22}{'output shape':<24}{'params':>10}  settings"]
    for row in expected_rows(entry):
        shape = "?" if row.output_shape is None else str(tuple(row.output_shape))
        settings = ", ".join(f"{k}={v}" for k, v in row.settings.items())
        params = "?" if row.params is None else f"{row.params:,}"
        lines.append(f"  {row.name:<24}{row.class_name:<22}{shape:<24}{params:>10}  {settings}")
    totals = entry["totals"]
    if totals["params"] is not None:
        lines.append(f"  total {totals['params']:,} (trainable {totals['trainable']:,}, "
                     f"non-trainable {totals['non_trainable']:,})")
    if entry.get("collapse"):
        c = entry["collapse"]
        lines.append(f"  collapses at {c['layer']}: a {c['window']} window on a {c['size_in']} map")
    return "\n".join(lines)
