"""Reference solutions: one module per exercise, building and training the documented models.

Every module exposes
- `MODELS`: model key -> builder returning a fresh Keras model, exactly as the seed builds it;
- `DESCRIPTIONS`: model key -> one line for people;
- `KNOWN_WRONG` (optional): model key -> layer configs of a documented wrong answer that Keras
  cannot even build (recorded through the grader's own shape arithmetic);
- `GRADED_METRICS`: the metrics that get a threshold;
- `TRAINING`: the training settings, as data, for the expected file;
- `train(seed, run) -> dict[str, float]`: train as the seed does and return metrics named
  `<model>.<metric>`.

Threshold rule (one rule for every graded metric, applied in `threshold_for`): the lowest value
over the recorded seeds minus `MARGIN` (two points), rounded down to three decimals; partial
credit runs linearly from `FLOOR_BELOW` (ten points) under the threshold up to the threshold.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MARGIN = 0.02
FLOOR_BELOW = 0.10


def threshold_for(values: list[float]) -> dict:
    """The pass mark and partial-credit floor derived from one metric's values over seeds."""
    passing = math.floor((min(values) - MARGIN) * 1000) / 1000
    return {
        "pass": passing,
        "floor": round(max(passing - FLOOR_BELOW, 0.0), 3),
        "rule": f"min over {len(values)} seeds ({min(values):.4f}) - {MARGIN}, rounded down to 3 decimals; "
                f"partial credit linear from pass - {FLOOR_BELOW} to pass",
    }


@dataclass
class RunOptions:
    """How one reference run trains: full as the seed does, or capped for smoke tests."""

    data_dir: str | None = None
    epochs_cap: int | None = None
    train_limit: int | None = None
    """Use only the first N training images (smoke tests); None for the whole set."""
    workdir: Path = field(default_factory=lambda: Path("."))
    report: Callable[[str], None] = print
    label: str = ""

    def epochs(self, seed_epochs: int) -> int:
        return min(seed_epochs, self.epochs_cap) if self.epochs_cap else seed_epochs

    def limit(self, *arrays):
        if self.train_limit is None:
            return arrays
        return tuple(array[: self.train_limit] for array in arrays)

    def progress(self, model_key: str, epochs: int):
        """A Keras callback that reports epoch, seed and an estimate of the time left in this fit."""
        import keras

        options = self

        class Progress(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.started = time.monotonic()

            def on_epoch_end(self, epoch, logs=None):
                done = epoch + 1
                spent = time.monotonic() - self.started
                left = spent / done * (epochs - done)
                shown = " ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items() if "acc" in k)
                options.report(
                    f"{options.label} {model_key}: epoch {done}/{epochs} {shown} "
                    f"({spent / done:.0f} s/epoch, at most {left / 60:.1f} min left in this fit)"
                )

        return Progress()


def accuracy(model, images, labels) -> float:
    """Accuracy of argmax predictions, whatever loss or label encoding the model was trained with."""
    import numpy as np

    predictions = model.predict(images, batch_size=256, verbose=0).argmax(axis=-1)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1)
    return float(np.mean(predictions == labels))
