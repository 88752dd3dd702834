"""The runners with real kernels and child processes, on tiny submissions (layer 2)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.runner import RunOptions, read_notebook, run_module, run_notebook


def write_notebook(path: Path, *cells: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells])
    nbformat.write(notebook, path)
    return path


TRACKING_NOTEBOOK = (
    "import numpy as np\nfrom tensorflow import keras",
    "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])",
    "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5), keras.layers.Dense(2)])",
    "inputs = keras.Input((8, 8, 1))\n"
    "cnn = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))",
    "raise ValueError('student mistake')",
    "x = np.zeros((5000, 4), 'float32'); y = np.zeros((5000,), 'int64')\n"
    "model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy')\n"
    "history = model.fit(x, y, epochs=30, validation_data=(x, y), verbose=0)\n"
    "predictions = model.predict(x, verbose=0)\n"
    "loss = model.evaluate(x, y, verbose=0)\n"
    "assert len(predictions) == 64, len(predictions)  # quick mode: eval_samples",
    "model.save('trained.keras')\nreloaded = keras.models.load_model('trained.keras')",
)


@pytest.fixture(scope="module")
def tracking_evidence(tmp_path_factory):
    path = write_notebook(tmp_path_factory.mktemp("nb") / "tracking.ipynb", *TRACKING_NOTEBOOK)
    return run_notebook(path, RunOptions(quick=True, cell_timeout=120, fit_batches=3, eval_samples=64))


@pytest.mark.kernel
def test_every_model_is_kept_with_the_cell_that_built_it(tracking_evidence):
    by_cell = {}
    for record in tracking_evidence.models:
        by_cell.setdefault(record.cell, []).append(record)
    assert [r.class_name for r in by_cell[2]] == ["Sequential"]
    assert by_cell[2][0].names == ("model",)
    assert by_cell[3][0].names == ("model",)  # the overwritten model of cell 2 is still there
    assert [r.class_name for r in by_cell[4]] == ["Functional"] and by_cell[4][0].names == ("cnn",)
    assert all(record.config is not None for record in tracking_evidence.models)


@pytest.mark.kernel
def test_cells_after_an_error_still_run_and_the_error_keeps_its_cell(tracking_evidence):
    statuses = {run.cell: run.status for run in tracking_evidence.cells}
    assert statuses == {1: "ok", 2: "ok", 3: "ok", 4: "ok", 5: "error", 6: "ok", 7: "ok"}
    failing = tracking_evidence.cells[4]
    assert (failing.error.ename, failing.error.evalue, failing.error.line) == ("ValueError", "student mistake", 1)


@pytest.mark.kernel
def test_quick_mode_caps_fit_to_one_epoch_of_a_few_batches(tracking_evidence):
    (fit,) = tracking_evidence.fits
    assert fit.capped and fit.epochs_requested == 30
    assert len(fit.history["loss"]) == 1 and "val_loss" in fit.history


@pytest.mark.kernel
def test_saves_and_loaded_models_are_recorded(tracking_evidence):
    (save,) = tracking_evidence.saves
    assert save["ok"] and save["path"] == "trained.keras" and save["cell"] == 7
    loaded = [r for r in tracking_evidence.models if r.origin == "loaded"]
    assert [r.names for r in loaded] == [("reloaded",)]


@pytest.mark.kernel
def test_a_cell_over_its_time_limit_is_stopped_and_the_next_cell_runs(tmp_path):
    path = write_notebook(tmp_path / "slow.ipynb", "import time\nwhile True: time.sleep(0.1)", "after = 1")
    evidence = run_notebook(path, RunOptions(cell_timeout=3))
    assert [run.status for run in evidence.cells] == ["timeout", "ok"]
    assert evidence.stopped is None


@pytest.mark.kernel
def test_a_kernel_that_dies_ends_the_run_with_its_cell(tmp_path):
    path = write_notebook(tmp_path / "dies.ipynb", "x = 1", "import os\nos._exit(3)", "y = 2")
    evidence = run_notebook(path, RunOptions(cell_timeout=60))
    assert (evidence.stopped, evidence.stopped_cell) == ("kernel_died", 2)
    assert [run.status for run in evidence.cells] == ["ok", "error", "not_run"]


@pytest.mark.kernel
def test_memory_over_the_limit_kills_the_kernel_and_says_so(tmp_path):
    path = write_notebook(tmp_path / "greedy.ipynb", "import numpy as np\nx = np.ones((3, 2**30), dtype=np.uint8)")
    evidence = run_notebook(path, RunOptions(cell_timeout=60, memory_limit_bytes=1 * 2**30))
    assert evidence.stopped == "memory_limit"


@pytest.mark.parametrize("content, problem_words", [
    (b"not json at all", "not valid JSON"),
    (b"[1, 2, 3]", "no list of cells"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "cells": [], "metadata": {}}).encode(), "format 3"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code"}], "metadata": {}}).encode(),
     "does not follow"),
    (b"\xff\xfe{\x00", "not UTF-8"),
])
def test_unreadable_notebooks_are_reported_not_raised(tmp_path, content, problem_words):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    notebook, problem = read_notebook(path)
    assert notebook is None and problem_words in problem


def test_invalid_notebook_evidence_needs_no_kernel(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{")
    evidence = run_notebook(path, RunOptions())
    assert evidence.invalid and not evidence.cells


@pytest.mark.kernel
def test_module_entry_points_are_called_in_a_child_process(tmp_path):
    module = tmp_path / "solution.py"
    module.write_text(
        "import keras\n"
        "def build_model():\n"
        "    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
        "def build_broken():\n"
        "    raise RuntimeError('oops')\n"
    )
    evidence = run_module(module, RunOptions(cell_timeout=120), ("build_model", "build_broken", "build_absent"))
    assert evidence.entry_points == {"build_model": "ok", "build_broken": "error", "build_absent": "missing"}
    (record,) = evidence.models
    assert record.names == ("build_model",) and record.origin == "entry_point"
    (failure,) = [run.error for run in evidence.cells]
    assert (failure.ename, failure.line) == ("RuntimeError", 5)


@pytest.mark.kernel
def test_a_file_that_is_not_a_saved_model_is_unloadable(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("not a zip")
    evidence = run_module(path, RunOptions(cell_timeout=120), (), kind="saved_model")
    assert evidence.invalid and not evidence.models


@pytest.mark.kernel
def test_the_kernel_loads_cifar100_offline_from_the_data_layer(tmp_path):
    import pickle

    import numpy as np

    from grader.data import prepare_keras_home

    source = tmp_path / "data" / "cifar-100-python"
    source.mkdir(parents=True)
    for split, count in (("train", 6), ("test", 4)):
        batch = {b"data": np.full((count, 3072), 7, np.uint8), b"fine_labels": list(range(count)),
                 b"coarse_labels": [0] * count}
        (source / split).write_bytes(pickle.dumps(batch))
    home = tmp_path / "keras-home"
    served = prepare_keras_home(home, tmp_path / "data")
    assert served["cifar100"] == "full"
    path = write_notebook(tmp_path / "cifar.ipynb",
                          "import keras\n(x, y), (xt, yt) = keras.datasets.cifar100.load_data()\n"
                          "assert x.shape == (6, 32, 32, 3) and yt.shape == (4, 1), (x.shape, yt.shape)")
    evidence = run_notebook(path, RunOptions(cell_timeout=120, keras_home=home, data_served=served))
    assert [run.status for run in evidence.cells] == ["ok"], evidence.cells


@pytest.mark.kernel
def test_no_kernel_process_outlives_its_run(tmp_path):
    """At the process level (the grader's own user) the kernel can write its pid where the
    test reads it; it must be gone after the run."""
    import time

    from grader.runner.sandbox import detect

    pid_file = tmp_path / "pid"
    path = write_notebook(tmp_path / "pid.ipynb", f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))")
    run_notebook(path, RunOptions(cell_timeout=60, isolation=detect("process")))
    pid = int(pid_file.read_text())
    for _ in range(20):
        status = Path(f"/proc/{pid}/status")
        if not status.exists() or "State:\tZ" in status.read_text():
            break
        time.sleep(0.25)
    else:
        pytest.fail(f"kernel {pid} still running after the run")
