"""Wall time and peak memory of `--quick`, `--artifacts` and full grading of one correct
fashion_cnn submission that trains as the seed does (all 48,000 training images, up to 20 epochs
with early stopping) and saves its best model.

Steps: write the notebook; train it once outside the grader to get the saved model a student
would upload (`best-cnn-model.keras`); then grade it in each mode with `cnngrader grade`, each in
a process of its own, and print wall time, the peak memory of the student's kernel (the
grader's own figure, from results.json) and the peak resident memory of the grader's process
tree as `/usr/bin/time` sees it (the largest single process: kernel, evaluator or grader).
Not part of the tests: it takes about 10 minutes on 2 cores.

    python benchmarks/grading_modes.py [--workdir DIR] [--modes quick artifacts full]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

CELLS = [
    """from tensorflow import keras
from sklearn.model_selection import train_test_split

(train_input, train_target), (test_input, test_target) = keras.datasets.fashion_mnist.load_data()
train_scaled = train_input.reshape(-1, 28, 28, 1) / 255.0
train_scaled, val_scaled, train_target, val_target = train_test_split(
    train_scaled, train_target, test_size=0.2, random_state=42)""",
    """model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(32, kernel_size=3, activation='relu', padding='same'),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, kernel_size=3, activation='relu', padding='same'),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(100, activation='relu'),
    keras.layers.Dropout(0.4),
    keras.layers.Dense(10, activation='softmax'),
])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])""",
    """checkpoint_cb = keras.callbacks.ModelCheckpoint('best-cnn-model.keras', save_best_only=True)
early_stopping_cb = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
history = model.fit(train_scaled, train_target, epochs=20, verbose=2,
                    validation_data=(val_scaled, val_target),
                    callbacks=[checkpoint_cb, early_stopping_cb])""",
    """model = keras.models.load_model('best-cnn-model.keras')
model.evaluate(val_scaled, val_target, verbose=0)""",
    """conv_acti = keras.Model(model.inputs, model.layers[0].output)
conv2_acti = keras.Model(model.inputs, model.layers[2].output)
print(conv_acti.predict(train_scaled[0:1]).shape, conv2_acti.predict(train_scaled[0:1]).shape)""",
]


def write_submission(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    path = folder / "correct_full_training.ipynb"
    nbformat.write(notebook, path)
    return path


def train_once(folder: Path) -> float:
    """Run the notebook's cells as a plain script in `folder`: the model file a student uploads
    (offline, with the datasets served from a KERAS_HOME the data layer prepares)."""
    from grader.data import prepare_keras_home

    keras_home = folder.parent / "keras-home"
    prepare_keras_home(keras_home)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "\n\n".join(CELLS[:3])], cwd=folder, check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_HOME": str(keras_home)},
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def grade(path: Path, mode: str, out: Path) -> dict:
    flags = {"quick": ["--quick"], "artifacts": ["--artifacts"], "full": []}[mode]
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "grader.cli", "grade", str(path),
               "--exercise", "fashion_cnn", "--out", str(out), *flags]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    wall = time.monotonic() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr)
    results = json.loads(next(out.glob("*/results.json")).read_text())
    meta = results["extra_data"]["meta"]
    return {"mode": mode, "wall_seconds": round(wall, 1), "score": results["score"],
            "max_score": results["extra_data"]["max_score"],
            "kernel_peak": meta.get("peak_memory"),
            "largest_process_peak_mb": round(int(peak.group(1)) / 1024) if peak else None,
            "evaluation_seconds": (meta.get("evaluation") or {}).get("seconds"),
            "accuracy": next((test["extra_data"].get("view", {}).get("accuracy") for test in results["tests"]
                              if test["extra_data"]["check"] == "accuracy"), None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--modes", nargs="+", default=["quick", "artifacts", "full"])
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cnngrader-bench-"))
    submission = workdir / "submission"
    notebook = write_submission(submission)
    if "artifacts" in args.modes and not (submission / "best-cnn-model.keras").exists():
        print(f"training once to get the uploaded model: {train_once(submission):.0f} s", flush=True)
    for mode in args.modes:
        target = submission if mode == "artifacts" else notebook
        row = grade(target, mode, workdir / f"graded-{mode}")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
