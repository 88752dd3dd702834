"""Wall time and peak memory of `--quick`, `--artifacts` and full grading of one correct
submission of an exercise, trained at the seed's scale, for sizing a Gradescope container.

The notebook: for fashion_cnn, one written here that trains as the seed does (all 48,000 training
images, up to 20 epochs with early stopping) and saves its best model; for the other exercises,
the bundled `examples/submissions/<id>/clean--passed--correct.ipynb` scaled up to the seed's
data and epochs (its `[:N]` slices removed, each `epochs=1` set to the seed's epochs, and a
`save` of every model graded by accuracy added where the notebook saves none, so that
`--artifacts` has files to grade); or any notebook given with `--notebook`.

Steps: write the notebook; train it once outside the grader to get the saved models a student
would upload; then grade it in each mode with `cnngrader grade`, each in a process of its own,
and print wall time, the peak memory of the student's kernel (the grader's own figure, from
results.json), the peak resident memory of the largest process (`/usr/bin/time`) and the peak of
the whole process tree's resident memory summed (sampled every 0.25 s from /proc: grader,
kernel and evaluation process together, what a container's memory limit sees).
Not part of the tests: it takes 5 to 20 minutes per exercise on 2 cores.

    python benchmarks/grading_modes.py [--exercise ID] [--notebook NB] [--workdir DIR]
        [--modes quick artifacts full] [--cpus N] [--keras 2|3]

`--keras 2` grades (and trains once) under tf-keras, as `cnngrader grade --keras 2` does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

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


SEED_EPOCHS = {
    "fashion_pooling": [20],
    "fashion_conv_intro": [5, 5],
    "mnist_models": [30, 30, 30],
    "cnn_transfer": [20, 20, 10, 10],
}
"""Per exercise, the seed's epochs for each `epochs=1` of the clean example, in order."""

SAVES = {
    "fashion_conv_intro": ["model.save('dense.keras')", "model.save('cnn.keras')"],
    "mnist_models": ["model.save('dense10.keras')", "model.save('mlp.keras')", "model.save('cnn.keras')"],
    "cnn_transfer": [None, "super_model.save('classifier.keras')", None, None],
}
"""Per exercise, a line added to each training cell (in order) so that the model graded by
accuracy is saved to a file a student would upload in --artifacts mode (None: none added)."""


def seed_scale_cells(exercise: str) -> list[str]:
    """The clean example's code cells at the seed's scale (see the module's docstring)."""
    if exercise == "fashion_cnn":
        return list(CELLS)
    clean = nbformat.read(ROOT / "examples/submissions" / exercise / "clean--passed--correct.ipynb", as_version=4)
    epochs, saves = iter(SEED_EPOCHS[exercise]), iter(SAVES.get(exercise, []))
    cells = []
    for cell in clean.cells:
        if cell.cell_type != "code":
            continue
        source = re.sub(r"\[:\d+\]", "", cell.source)
        while "epochs=1," in source or "epochs=1)" in source:
            source = re.sub(r"epochs=1(?=[,)])", f"epochs={next(epochs)}", source, count=1)
            save = next(saves, None)
            if save:
                source += "\n" + save
        cells.append(source)
    return cells


def write_submission(folder: Path, cells: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    path = folder / "correct_full_training.ipynb"
    nbformat.write(notebook, path)
    return path


def train_once(folder: Path, exercise: str, cells: list[str], prefix: list[str], keras: int = 3) -> float:
    """Run the notebook's cells as a plain script in `folder`: the model files a student uploads
    (offline, with the datasets served from a KERAS_HOME the data layer prepares, and the data
    file the grader puts beside a cnn_transfer notebook)."""
    from grader.exercises import load_spec
    from grader.grading import prepare_run

    options = prepare_run(load_spec(exercise), folder.parent, quick=True, timeout=None, data_dir=None)
    provided = [folder / name for name in options.provided_files]
    for name, path in options.provided_files.items():
        (folder / name).write_bytes(Path(path).read_bytes())
    # MNIST's loader checks the file's hash, so the subset is served as the probe serves it.
    from grader.runner import keras2

    package = keras2.PACKAGE if keras == 2 else "keras"
    serve = f"from grader.runner.probe import _serve_mnist_offline; _serve_mnist_offline({package!r})\n"
    legacy = {}
    if keras == 2:
        serve = "from grader.runner import keras2; keras2.alias()\n" + serve
        legacy = keras2.ENVIRONMENT
    started = time.monotonic()
    try:
        subprocess.run([*prefix, sys.executable, "-c", serve + "\n\n".join(cells)], cwd=folder, check=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_HOME": str(options.keras_home),
                            "MPLBACKEND": "Agg", **legacy},
                       stdout=subprocess.DEVNULL)
    finally:
        for path in provided:
            path.unlink(missing_ok=True)
    return time.monotonic() - started


def tree_rss_kb(root: int) -> tuple[int, int]:
    """(sum, largest) resident memory in kB of `root` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    sizes = []
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        if found:
            sizes.append(int(found.group(1)))
    return sum(sizes), max(sizes, default=0)


def watch_memory(process: subprocess.Popen, peaks: dict) -> None:
    while process.poll() is None:
        total, largest = tree_rss_kb(process.pid)
        peaks["sum"] = max(peaks.get("sum", 0), total)
        peaks["largest"] = max(peaks.get("largest", 0), largest)
        time.sleep(0.25)


def grade(path: Path, exercise: str, mode: str, out: Path, prefix: list[str], keras: int = 3) -> dict:
    flags = {"quick": ["--quick"], "artifacts": ["--artifacts"], "full": []}[mode] + ["--keras", str(keras)]
    command = [*prefix, "/usr/bin/time", "-v", sys.executable, "-m", "grader.cli", "grade", str(path),
               "--exercise", exercise, "--out", str(out), *flags]
    started = time.monotonic()
    peaks: dict = {}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    watcher = threading.Thread(target=watch_memory, args=(process, peaks), daemon=True)
    watcher.start()
    _, stderr = process.communicate()
    watcher.join()
    wall = time.monotonic() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    results = json.loads(next(out.glob("*/results.json")).read_text())
    meta = results["extra_data"]["meta"]
    return {"exercise": exercise, "mode": mode, "keras": keras, "wall_seconds": round(wall, 1), "score": results["score"],
            "max_score": results["extra_data"]["max_score"],
            "kernel_peak": meta.get("peak_memory"),
            "largest_process_peak_mb": round(int(peak.group(1)) / 1024) if peak else None,
            "tree_peak_mb": round(peaks.get("sum", 0) / 1024),
            "evaluation_seconds": (meta.get("evaluation") or {}).get("seconds"),
            "accuracy": {test["extra_data"].get("model") or test["name"]: test["extra_data"].get("view", {}).get("accuracy")
                         for test in results["tests"] if test["extra_data"]["check"] == "accuracy"},
            "checks": {test["name"]: f'{test["score"]:g}/{test["max_score"]:g} {test["extra_data"]["outcome"]}'
                       for test in results["tests"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--modes", nargs="+", default=["quick", "artifacts", "full"])
    parser.add_argument("--exercise", default="fashion_cnn")
    parser.add_argument("--notebook", type=Path, default=None,
                        help="the notebook to grade (default: the seed-scale one described above)")
    parser.add_argument("--cpus", type=int, default=None,
                        help="pin every process to the first N cores (taskset), to see a smaller container")
    parser.add_argument("--keras", type=int, choices=(2, 3), default=3,
                        help="the Keras the notebook runs under (2: tf-keras, Keras 2 mode)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cnngrader-bench-"))
    prefix = ["taskset", "-c", ",".join(str(n) for n in range(args.cpus))] if args.cpus else []
    if args.notebook:
        cells = [cell.source for cell in nbformat.read(args.notebook, as_version=4).cells if cell.cell_type == "code"]
    else:
        cells = seed_scale_cells(args.exercise)
    submission = workdir / "submission"
    notebook = write_submission(submission, cells)
    if "artifacts" in args.modes and not any(submission.glob("*.keras")):
        seconds = train_once(submission, args.exercise, cells, prefix, args.keras)
        print(f"training once to get the uploaded models: {seconds:.0f} s "
              f"({', '.join(p.name for p in sorted(submission.glob('*.keras')))})", flush=True)
    for mode in args.modes:
        target = submission if mode == "artifacts" else notebook
        row = grade(target, args.exercise, mode, workdir / f"graded-{mode}-keras{args.keras}", prefix, args.keras)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
