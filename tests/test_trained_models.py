"""Checks that need a trained model, graded for real (layer 3).

Each test writes a notebook into tmp_path that trains the exercise's model on a slice of
Fashion-MNIST (at most 3,000 images, 1-3 epochs), grades it through the real runner and the
evaluation process (a fresh isolated interpreter that loads every exported model with
safe_mode=True and predicts the test images the grader holds), and asserts diagnosis codes,
outcomes and scores, never wording.

Slice training cannot reach the pass marks `reference record` measured on the full data (0.889
for `cnn.test_accuracy`). Tests that need a model to pass, or to land between the floor and the
pass mark, grade against a deep copy of the expected file whose thresholds for that one metric
are lowered (`lowered`); the checks themselves are never changed.

Cases that an example submission already grades for real, with exact codes, are not repeated here
(tests/test_examples.py): never trained (`fashion_pooling/full/not_trained--...`), a Lambda layer
(`fashion_pooling/full/lambda_layer+...`), a file saved before training and reloaded
(`fashion_cnn/reload_mismatch--...`), a transfer on the extractor in memory
(`cnn_transfer/base_not_reloaded--...`), an uploaded file of another architecture
(`fashion_cnn/artifacts/artifact_mismatch--...`).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.exercises import load_spec, parse_spec
from grader.grading import Submission, grade_submission, prepare_run, submission_in_folder
from grader.reference import load_expected
from grader.resources import exercises_dir
from grader.results import Outcome

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

METRIC = "cnn.test_accuracy"
WELL_TRAINED = {"pass": 0.75, "floor": 0.55}
"""Below what 3,000 images for 3 epochs reach (0.80 on the 10,000 test images)."""
PARTIAL = {"pass": 0.95, "floor": 0.15}
"""Wide enough that a CNN trained on 200 images for one epoch (0.42) lands between floor and pass."""


def write_notebook(path: Path, *cells: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells])
    nbformat.write(notebook, path)
    return path


def fashion_data(train: int) -> str:
    """Load Fashion-MNIST as the exercise does; `train` images to fit on, 500 to validate."""
    return f"""\
        import numpy as np
        import keras

        keras.utils.set_random_seed(0)
        (train_input, train_target), (test_input, test_target) = keras.datasets.fashion_mnist.load_data()
        x = train_input[:{train + 500}].reshape(-1, 28, 28, 1) / 255.0
        train_scaled, train_labels = x[:{train}], train_target[:{train}]
        val_scaled, val_labels = x[{train}:], train_target[{train}:{train + 500}]
        test_scaled = test_input.reshape(-1, 28, 28, 1) / 255.0
        """


def build_cnn(first_layers: str = "") -> str:
    """The exercise's CNN (333,526 parameters), with `first_layers` inserted after the input."""
    return f"""\
        def build_cnn(first_layers=()):
            return keras.Sequential([
                keras.Input((28, 28, 1)),
                *first_layers,
                keras.layers.Conv2D(32, kernel_size=3, activation='relu', padding='same'),
                keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(64, kernel_size=3, activation='relu', padding='same'),
                keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(),
                keras.layers.Dense(100, activation='relu'),
                keras.layers.Dropout(0.4),
                keras.layers.Dense(10, activation='softmax'),
            ])


        model = build_cnn([{first_layers}])
        model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
        """


def fit_with_callbacks(epochs: int) -> str:
    return f"""\
        checkpoint_cb = keras.callbacks.ModelCheckpoint('best-cnn-model.keras', save_best_only=True)
        early_stopping_cb = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
        history = model.fit(train_scaled, train_labels, epochs={epochs}, batch_size=32, verbose=0,
                            validation_data=(val_scaled, val_labels),
                            callbacks=[checkpoint_cb, early_stopping_cb])
        """


RELOAD = "model = keras.models.load_model('best-cnn-model.keras')"


def trained_cnn(path: Path, train: int, epochs: int, *more: str, reload: bool = True) -> Path:
    """The exercise done right on a slice: checkpoint, early stopping, and (with `reload`) the
    best file loaded back, which the evaluation process then predicts with too."""
    cells = [fashion_data(train), build_cnn(), fit_with_callbacks(epochs), *([RELOAD] if reload else []), *more]
    return write_notebook(path, *cells)


@pytest.fixture(scope="module", autouse=True)
def fashion_mnist_installed():
    from grader.data import load_fashion_mnist

    try:
        load_fashion_mnist(download=False)
    except Exception as error:  # pragma: no cover - the README says how to install the data
        pytest.skip(f"Fashion-MNIST not installed: {error}")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """RunOptions per (spec, mode), prepared once per module like one grading batch each."""
    cache = {}

    def make(spec, mode: str = "full"):
        key = (spec.id, spec.holdout, spec.evaluation_timeout, mode)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{spec.id}-{mode}")
            cache[key] = prepare_run(spec, folder, quick=False, timeout=240, data_dir=None,
                                     memory_limit_bytes=4 * 2**30, artifacts=mode == "artifacts")
            assert cache[key].mode == mode
        return cache[key]

    return make


@pytest.fixture(scope="module")
def fashion_spec():
    return load_spec("fashion_cnn")


def lowered(thresholds: dict, metric: str = METRIC, exercise: str = "fashion_cnn") -> dict:
    """The expected file with the thresholds of `metric` lowered; nothing else changes."""
    expected = copy.deepcopy(load_expected(exercise))
    expected["thresholds"][metric].update(thresholds)
    return expected


def grade(path: Path, spec, options, expected: dict | None = None, submission: Submission | None = None):
    submission = submission or Submission(path.stem, path)
    return grade_submission(submission, spec, expected or load_expected(spec.reference), options)


def check_of(result, check_id: str):
    (found,) = [check for check in result.checks if check.check == check_id]
    return found


def codes(check) -> set[str]:
    return {diagnosis.code for diagnosis in check.diagnoses}


def explain(result) -> list:
    return [(c.check, c.outcome.value, c.score, c.summary, sorted(codes(c)), c.data.get("accuracy"))
            for c in result.checks]


def diagnosis_of(check, code: str):
    (found,) = [d for d in check.diagnoses if d.code == code]
    return found


@pytest.fixture(scope="module")
def well_trained(tmp_path_factory, prepared, fashion_spec):
    """3,000 images, 3 epochs, checkpoint and early stopping, the best file reloaded."""
    path = trained_cnn(tmp_path_factory.mktemp("well") / "well_trained.ipynb", train=3000, epochs=3)
    return grade(path, fashion_spec, prepared(fashion_spec), lowered(WELL_TRAINED))


def test_a_model_trained_well_passes_accuracy_with_full_points(well_trained):
    """Graded against lowered thresholds (pass 0.75, floor 0.55): slices cannot reach 0.889."""
    accuracy = check_of(well_trained, "accuracy")
    assert accuracy.outcome == Outcome.PASSED, explain(well_trained)
    assert accuracy.score == accuracy.max_score == 6 and not accuracy.diagnoses
    assert WELL_TRAINED["pass"] <= accuracy.data["accuracy"] <= 1.0
    assert "10,000" in accuracy.data["images"]  # the grader's own test set, every image of it
    assert check_of(well_trained, "execution").outcome == Outcome.PASSED
    assert well_trained.meta["evaluation"]["stopped"] is None


def test_a_checkpoint_with_early_stopping_reloaded_passes_reload(well_trained):
    """ModelCheckpoint(save_best_only=True) and EarlyStopping(restore_best_weights=True), then
    load_model of the checkpoint (the well-trained run)."""
    reload = check_of(well_trained, "reload")
    assert reload.outcome == Outcome.PASSED, explain(well_trained)
    assert reload.score == reload.max_score and not reload.diagnoses
    assert reload.data["path"] == "best-cnn-model.keras"


def test_a_model_trained_briefly_gets_partial_credit_and_the_band(tmp_path, prepared, fashion_spec):
    """Graded against thresholds lowered to pass 0.95, floor 0.15, so that 200 images for one
    epoch land between them."""
    expected = lowered(PARTIAL)
    path = trained_cnn(tmp_path / "brief.ipynb", train=200, epochs=1, reload=False)
    result = grade(path, fashion_spec, prepared(fashion_spec), expected)
    accuracy = check_of(result, "accuracy")
    assert accuracy.outcome == Outcome.FAILED, explain(result)
    assert codes(accuracy) == {"accuracy_below_threshold"}
    value = accuracy.data["accuracy"]
    assert PARTIAL["floor"] < value < PARTIAL["pass"]
    assert 0 < accuracy.score < accuracy.max_score
    linear = (value - PARTIAL["floor"]) / (PARTIAL["pass"] - PARTIAL["floor"]) * accuracy.max_score
    assert accuracy.score == pytest.approx(linear, abs=0.01)
    band = diagnosis_of(accuracy, "accuracy_below_threshold").field("band")
    recorded = expected["metrics"][METRIC]
    assert f"{recorded['min']:.3f}" in band and f"{recorded['max']:.3f}" in band


PATCH_PREDICTIONS = """\
    import json

    honest = float((model.predict(test_scaled, verbose=0).argmax(axis=1) == test_target).mean())
    true_labels, original_argmax = test_target.copy(), np.argmax


    def predict(self, x, *args, **kwargs):
        return keras.utils.to_categorical(true_labels[:len(x)], 10)


    def evaluate(self, x=None, y=None, *args, **kwargs):
        return [0.0, 1.0]


    def argmax(a, *args, **kwargs):
        if np.ndim(a) == 2 and len(a) == len(true_labels):
            return true_labels.copy()
        return original_argmax(a, *args, **kwargs)


    keras.Model.predict, keras.Model.evaluate, np.argmax = predict, evaluate, argmax
    assert model.evaluate(test_scaled, test_target)[1] == 1.0
    assert (np.argmax(model.predict(test_scaled), axis=1) == test_target).all()
    with open({report!r}, 'w') as handle:
        json.dump({{'honest': honest}}, handle)
    """


def test_patched_predict_and_evaluate_do_not_change_the_graded_accuracy(tmp_path, prepared, fashion_spec, monkeypatch):
    """The notebook trains briefly, measures its model honestly, then makes `Model.predict`,
    `Model.evaluate` and `np.argmax` answer the true test labels. The grader measures in its
    own process what the weights score. Thresholds lowered as in the partial-credit test."""
    monkeypatch.setenv("CNNGRADER_ISOLATION", "process")  # the kernel writes its report where this test reads it
    report = tmp_path / "honest.json"
    path = trained_cnn(tmp_path / "patched.ipynb", 200, 1, PATCH_PREDICTIONS.format(report=str(report)), reload=False)
    result = grade(path, fashion_spec, prepared(fashion_spec), lowered(PARTIAL))
    assert check_of(result, "execution").outcome == Outcome.PASSED, explain(result)  # the patch worked in the kernel
    honest = json.loads(report.read_text())["honest"]
    accuracy = check_of(result, "accuracy")
    assert accuracy.data["accuracy"] == pytest.approx(honest, abs=0.02), explain(result)
    assert accuracy.data["accuracy"] < 0.95
    assert codes(accuracy) == {"accuracy_below_threshold"}
    assert accuracy.outcome == Outcome.FAILED and 0 < accuracy.score < accuracy.max_score


TRANSFER_DATA = """\
    import numpy as np
    import keras

    keras.utils.set_random_seed(0)
    data = np.load('cnn_transfer_data.npz')  # the grader puts it beside the notebook
    train = data['x_train'][:256].astype('float32') / 255.0
    tr_super_y, tr_sub_y = data['y_train_coarse'][:256], data['y_train_fine'][:256]
    n_super, n_sub = int(data['y_train_coarse'].max()) + 1, int(data['y_train_fine'].max()) + 1
    """

TRANSFER_MODELS = """\
    def shared_function():
        input_layer = keras.Input((32, 32, 3))
        pool = input_layer
        for n in range(4):
            conv = keras.layers.Conv2D(filters=128, kernel_size=3, padding='same')(pool)
            batch = keras.layers.BatchNormalization()(conv)
            activ = keras.layers.Activation('relu')(batch)
            pool = keras.layers.MaxPool2D()(activ)
        return keras.Model(input_layer, pool)


    def add_head(extractor, classes):
        inputs = keras.Input((32, 32, 3))
        flat = keras.layers.Flatten()(extractor(inputs))
        return keras.Model(inputs, keras.layers.Dense(classes, activation='softmax')(flat))


    def fit_on(model, labels, classes):
        model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
        return model.fit(train, keras.utils.to_categorical(labels, classes), batch_size=32, epochs=1, verbose=0)


    shared_model = shared_function()
    super_model = add_head(shared_model, n_super)
    """

COARSE_TRAINING = "history_super = fit_on(super_model, tr_super_y, n_super)"
SAVE_EXTRACTOR = "shared_model.save('shared_model.keras')"


def transfer_notebook(path: Path, save_before_coarse: bool, base: str) -> Path:
    """The exercise's transfer: `base` is the extractor the fine-class model is built on."""
    stages = [SAVE_EXTRACTOR, COARSE_TRAINING] if save_before_coarse else [COARSE_TRAINING, SAVE_EXTRACTOR]
    return write_notebook(
        path, TRANSFER_DATA, TRANSFER_MODELS, *stages,
        "load_shared_model = keras.models.load_model('shared_model.keras')\n"
        "load_shared_model.trainable = False\n"
        "shared_model.trainable = False",
        f"load_sub_model = add_head({base}, n_sub)\n"
        "scratch_sub_model = add_head(shared_function(), n_sub)\n"
        "history_sub = fit_on(load_sub_model, tr_sub_y, n_sub)\n"
        "history_scratch = fit_on(scratch_sub_model, tr_sub_y, n_sub)",
    )


@pytest.fixture(scope="module")
def transfer_spec():
    return load_spec("cnn_transfer")


def test_an_extractor_saved_before_its_coarse_training_gets_no_transfer_gain(tmp_path, prepared, transfer_spec):
    """Everything in place (reloaded, frozen, a fair baseline) but the file holds the untrained
    extractor: only the gain, measured by the grader, is missing."""
    path = transfer_notebook(tmp_path / "saved_untrained.ipynb", save_before_coarse=True, base="load_shared_model")
    result = grade(path, transfer_spec, prepared(transfer_spec))
    transfer = check_of(result, "transfer")
    assert transfer.outcome == Outcome.FAILED, explain(result)
    assert codes(transfer) == {"no_transfer_gain"}
    threshold = load_expected("cnn_transfer")["thresholds"]["transfer.gain"]
    assert transfer.data["gain"] < threshold["floor"]
    assert transfer.data["gain"] == pytest.approx(transfer.data["transfer"] - transfer.data["scratch"], abs=1e-3)
    assert transfer.score == pytest.approx(transfer.max_score / 2)  # the structure's half, none of the gain's


MAKE_UPLOADS = """\
import sys

import keras


def cnn(first_filters):
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(first_filters, kernel_size=3, activation='relu', padding='same'),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, kernel_size=3, activation='relu', padding='same'),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(100, activation='relu'),
        keras.layers.Dropout(0.4),
        keras.layers.Dense(10, activation='softmax'),
    ])


cnn(16).save(sys.argv[1])  # another architecture: 16 filters in the first convolution
cnn(32).save(sys.argv[2])  # the right one, never trained
"""


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict[str, Path]:
    """Model files a student might upload, made in a process of their own."""
    folder = tmp_path_factory.mktemp("uploads")
    files = {"other_architecture": folder / "other.keras", "untrained": folder / "untrained.keras"}
    made = subprocess.run([sys.executable, "-c", MAKE_UPLOADS, *map(str, files.values())],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    return files


def artifact_submission(folder: Path, upload: Path) -> Submission:
    """A folder with the notebook (its training capped, as in --quick) and the uploaded file."""
    folder.mkdir()
    write_notebook(folder / "notebook.ipynb", fashion_data(640), build_cnn(), fit_with_callbacks(1))
    (folder / "best-cnn-model.keras").write_bytes(upload.read_bytes())
    return submission_in_folder(folder)


def test_an_uploaded_untrained_file_gets_accuracy_below_threshold(tmp_path, prepared, fashion_spec, uploads):
    """--artifacts mode: the upload has the right architecture, so it is the one graded, on the
    recorded thresholds, and it was never trained."""
    submission = artifact_submission(tmp_path / "student", uploads["untrained"])
    result = grade(submission.path, fashion_spec, prepared(fashion_spec, "artifacts"), submission=submission)
    accuracy = check_of(result, "accuracy")
    assert (accuracy.outcome, accuracy.score) == (Outcome.FAILED, 0.0), explain(result)
    assert codes(accuracy) == {"accuracy_below_threshold"}
    assert accuracy.data["artifact"] == "artifact-best-cnn-model.keras"
    assert accuracy.data["accuracy"] < 0.3  # the upload's (chance is 0.1), not the notebook's trained model's


HOLDOUT_IMAGES = 1000

SEARCH_FOR_THE_HOLDOUT = r"""
import json, os, re, sys
from pathlib import Path

needles = __NEEDLES__
found, searched = [], {'environ': 0, 'configs': [], 'names': 0}


def look(where, text):
    found.extend(f'{where}: {needle}' for needle in needles if needle in text)


for key, value in os.environ.items():
    searched['environ'] += 1
    look(f'${key}', value)

# The probe's configuration: its path is in the grader's hidden first cell, its folder holds the
# evidence file, and the probe object names the folder its exports go to; the kernel's connection
# file is read too.
probe = sys.modules['grader.runner.probe'].active()
installed = {Path(p) for source in In for p in re.findall(r"install\('([^']+)'\)", source)}
for name, value in vars(probe).items():
    if isinstance(value, str):
        look(f'probe.{name}', value)
probe_folders = {c.parent for c in installed} | {Path(probe.evidence_path).parent}
probe_folders |= {Path(probe.export_dir)} if probe.export_dir else set()
configs = installed | {Path(arg) for arg in sys.argv if arg.endswith('.json') and os.path.isfile(arg)}
for folder in probe_folders:
    for here, _, files in os.walk(folder):
        configs |= {Path(here, f) for f in files}
for config in sorted(configs):
    searched['configs'].append(str(config))
    look(str(config), str(config))
    if config.is_file() and config.stat().st_size < 4 * 2**20:
        look(str(config), config.read_text(errors='replace'))


def walk(root, depth):
    root = Path(root)
    for here, folders, files in os.walk(root):
        if len(Path(here).relative_to(root).parts) >= depth:
            folders[:] = []
        for name in folders + files:
            searched['names'] += 1
            look(os.path.join(here, name), os.path.join(here, name))


walk(os.getcwd(), 10)
walk(os.environ['KERAS_HOME'], 10)
walk(os.environ.get('HOME', os.getcwd()), 3)
with open(__REPORT__, 'w') as handle:
    json.dump({'found': found, 'searched': searched}, handle)
if found:
    raise AssertionError(found)
"""


@pytest.fixture(scope="module")
def holdout(tmp_path_factory) -> Path:
    """1,000 images of the Fashion-MNIST test set, in a folder of the instructor's."""
    from grader.data import load_fashion_mnist

    _, (images, labels) = load_fashion_mnist(download=False)
    path = tmp_path_factory.mktemp("instructor") / "private-holdout-5k.npz"
    np.savez(path, x=images[5000:5000 + HOLDOUT_IMAGES], y=labels[5000:5000 + HOLDOUT_IMAGES])
    return path


def fashion_spec_with(**fields):
    """The fashion_cnn spec from its own toml, with `fields` added or replaced."""
    folder = exercises_dir() / "fashion_cnn"
    data = tomllib.loads((folder / "exercise.toml").read_text())
    return parse_spec({**data, **fields}, folder)


def test_accuracy_is_measured_on_the_holdout_which_the_submission_cannot_find(tmp_path, prepared, holdout, monkeypatch):
    """The spec names a hold-out file in a folder of the instructor's. The notebook looks for its
    name and folder in the environment, in the probe's configuration and evidence files, and in
    its folder, HOME and KERAS_HOME, and raises if it finds either: the execution check passing
    says it found nothing. The accuracy is measured on the hold-out's 1,000 images."""
    monkeypatch.setenv("CNNGRADER_ISOLATION", "process")  # the weakest level: it must hold even there
    spec = fashion_spec_with(holdout=str(holdout))
    report = tmp_path / "search.json"
    search = (SEARCH_FOR_THE_HOLDOUT.replace("__NEEDLES__", repr((holdout.name, str(holdout.parent))))
              .replace("__REPORT__", repr(str(report))))
    path = trained_cnn(tmp_path / "searcher.ipynb", 200, 1, search, reload=False)
    result = grade(path, spec, prepared(spec))
    execution = check_of(result, "execution")
    assert (execution.outcome, execution.score) == (Outcome.PASSED, execution.max_score), explain(result)
    searched = json.loads(report.read_text())
    assert searched["found"] == []
    assert any(config.endswith("probe.json") for config in searched["searched"]["configs"]), searched
    assert searched["searched"]["environ"] and searched["searched"]["names"]
    accuracy = check_of(result, "accuracy")
    assert codes(accuracy) == {"accuracy_below_threshold"}, explain(result)
    assert "hold-out" in accuracy.data["images"] and f"{HOLDOUT_IMAGES:,}" in accuracy.data["images"]
    assert result.meta["evaluation"]["images"] == accuracy.data["images"]
    correct = accuracy.data["accuracy"] * HOLDOUT_IMAGES  # a whole number of the hold-out's images
    assert correct == pytest.approx(round(correct), abs=1e-6)


def test_an_evaluation_over_its_time_limit_leaves_the_other_checks_graded(tmp_path, prepared, monkeypatch):
    """A spec with `evaluation_timeout = 1`: the evaluation process, started cold, cannot even
    import Keras in time (a warm one can nearly finish in a second, and then its predictions are
    graded). Accuracy, which needs its predictions, is an error; what needs none is graded as usual."""
    monkeypatch.setenv("CNNGRADER_WARM", "0")
    spec = fashion_spec_with(evaluation_timeout=1)
    path = trained_cnn(tmp_path / "on_time.ipynb", train=200, epochs=1)
    result = grade(path, spec, prepared(spec))
    assert result.meta["evaluation"]["stopped"] == "timeout", explain(result)
    accuracy = check_of(result, "accuracy")
    assert (accuracy.outcome, accuracy.score) == (Outcome.ERROR, 0.0)
    assert codes(accuracy) == {"evaluation_timeout"}
    assert diagnosis_of(accuracy, "evaluation_timeout").field("seconds") == "1"
    for graded in ("execution", "architecture", "reload"):
        check = check_of(result, graded)
        assert (check.outcome, check.score) == (Outcome.PASSED, check.max_score), explain(result)
