"""Keras 2 mode: a course written for Keras 2 graded under tf-keras, beside the Keras 3 default.

The seed notebooks as handed in lose every migration diagnosis in Keras 2 mode and keep every
other fault; a correct notebook scores the same in both modes; the evaluation process predicts
the same for the same weights under either Keras; the reference models have the same tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import cli, reference
from grader.diagnoses import KINDS
from grader.exercises import SpecError, load_spec, parse_spec
from grader.grading import Submission, grade_submission, prepare_run
from grader.reference import EXERCISE_IDS, load_expected
from grader.resources import exercises_dir, expected_dir
from grader.results import all_diagnoses, total_score
from grader.runner import keras2

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "examples" / "seeds"
EXERCISE_OF = {"seed_000": "fashion_cnn", "seed_001": "fashion_pooling", "seed_002": "fashion_conv_intro",
               "seed_003": "mnist_models", "seed_004": "cnn_transfer"}
MIGRATION = {kind.code for kind in KINDS if kind.migration}
"""The diagnoses of a Keras 2 line that fails under Keras 3 (`metrics='accuracy'`, ...)."""

# What each seed gets in quick mode, by Keras mode (the README's table; scripts/seeds_by_keras.py
# prints it). Under Keras 3, seeds 000 and 001 fail at `compile(metrics='accuracy')`, so their
# checkpoint (`best-cnn-model.h5`) is never written (data_unavailable) and seed 000's later
# `evaluate` finds the model uncompiled (runtime_error): consequences of the migration failure,
# gone with it. Seed 001's other runtime_error ('GPU device not found', raised by its own code),
# seed 002's missing comma and typos, seed 003's hard-coded 60000 and seed 004's missing data
# files, plotly and pooling collapse stay.
SEED_CODES = {
    "seed_000": ({"metrics_not_list", "sequential_input_undefined", "data_unavailable", "runtime_error"}, set()),
    "seed_001": ({"metrics_not_list", "sequential_input_undefined", "data_unavailable", "runtime_error"},
                 {"runtime_error"}),
    "seed_002": ({"syntax_error", "attribute_typo", "name_error", "unknown_fit_argument"},
                 {"syntax_error", "attribute_typo", "name_error", "unknown_fit_argument"}),
    "seed_003": ({"hard_coded_count", "runtime_error", "sequential_input_undefined"},
                 {"hard_coded_count", "runtime_error"}),
    "seed_004": ({"compile_positional_metrics", "data_unavailable", "legacy_load_format", "legacy_save_format",
                  "missing_module", "pooling_collapse", "wrong_output_classes"},
                 {"data_unavailable", "missing_module", "pooling_collapse", "wrong_output_classes"}),
}
CONSEQUENCES_OF_MIGRATION = {"seed_000": {"data_unavailable", "runtime_error"}, "seed_001": {"data_unavailable"}}

needs_tf_keras = pytest.mark.skipif(not keras2.available(), reason="tf-keras is not installed (cnngrader[keras2])")


def student_codes(result) -> set[str]:
    return {d.code for d in all_diagnoses(result) if d.kind.audience == "student"}


# --- The spec, the flags and a missing tf-keras ------------------------------------------------

def test_the_spec_says_which_keras_and_defaults_to_3():
    data = tomllib.loads((exercises_dir() / "fashion_cnn" / "exercise.toml").read_text())
    data.pop("keras", None)
    assert parse_spec(data).keras == 3
    assert parse_spec({**data, "keras": 2}).keras == 2
    for wrong in (4, True, "two"):
        with pytest.raises(SpecError, match="keras = 2"):
            parse_spec({**data, "keras": wrong})


def test_every_bundled_exercise_is_graded_under_keras_3_by_default():
    assert {load_spec(exercise).keras for exercise in EXERCISE_IDS} == {3}


def test_the_expected_table_is_the_migration_codes_minus_nothing_new():
    """Keras 2 mode only takes diagnoses away: the migration codes and what they caused."""
    for seed, (under_3, under_2) in SEED_CODES.items():
        assert under_2 <= under_3, seed
        assert under_2 & MIGRATION == set(), seed
        assert under_3 - under_2 <= MIGRATION | CONSEQUENCES_OF_MIGRATION.get(seed, set()), seed


def test_without_tf_keras_keras_2_mode_stops_with_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(keras2, "available", lambda: False)
    notebook = ROOT / "examples" / "submissions" / "fashion_cnn" / "clean--passed--correct.ipynb"
    status = cli.main(["grade", str(notebook), "--exercise", "fashion_cnn", "--keras", "2", "--quick",
                       "--out", str(tmp_path / "out")])
    message = "".join(capsys.readouterr())
    assert status == 2
    assert "tf-keras" in message and keras2.INSTALL in message and "--keras 3" in message
    assert "Traceback" not in message
    assert cli.main(["check", str(notebook), "--exercise", "fashion_cnn", "--keras", "2"]) == 2
    with pytest.raises(keras2.Keras2Unavailable, match="cnngrader\\[keras2\\]"):
        prepare_run(load_spec("fashion_cnn"), tmp_path, quick=True, timeout=60, data_dir=None, keras=2)


def test_keras_2_mode_grades_against_the_keras_2_records_and_says_so():
    """Thresholds come from the reference trained under the Keras the submissions run under."""
    from grader.grading import spec_versions

    spec = load_spec("cnn_transfer")
    assert reference.expected_folder(spec.reference, 2) == expected_dir() / reference.KERAS2_FOLDER
    assert reference.expected_folder(spec.reference, 3) == expected_dir()
    under_2, under_3 = spec_versions(spec, 2), spec_versions(spec, 3)
    assert (under_2["expected_file"], under_2["keras_mode"]) == ("keras2/cnn_transfer.json", 2)
    assert (under_3["expected_file"], under_3["keras_mode"]) == ("cnn_transfer.json", 3)
    assert under_2["expected_sha256"] != under_3["expected_sha256"]
    assert under_2["keras"].startswith("2.") and under_3["keras"].startswith("3.")
    thresholds = {keras: load_expected(spec.reference, keras=keras)["thresholds"]
                  for keras in (2, 3)}
    assert thresholds[2].keys() == thresholds[3].keys()


def test_an_exercise_recorded_only_under_keras_3_is_graded_in_keras_2_mode_against_that_record(tmp_path,
                                                                                               monkeypatch):
    (tmp_path / "own.json").write_text("{}")
    monkeypatch.setattr(reference, "expected_dir", lambda: tmp_path)
    assert reference.expected_folder("own", 2) == tmp_path


# --- In the student's process --------------------------------------------------------------------

@needs_tf_keras
@pytest.mark.slow
def test_import_keras_gives_the_same_keras_2_as_tensorflow_keras():
    """As when the course was written: seed 003 mixes `import keras` and `from tensorflow import keras`."""
    script = textwrap.dedent("""
        from grader.runner import keras2
        keras2.alias()
        import keras
        import keras.layers
        from keras.models import Sequential
        from tensorflow import keras as tf_keras_api
        import tf_keras
        assert keras is tf_keras, keras
        assert keras.layers.Dense is tf_keras_api.layers.Dense is tf_keras.layers.Dense
        assert Sequential is tf_keras.models.Sequential
        print(keras.__version__)
    """)
    env = {**os.environ, **keras2.ENVIRONMENT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().startswith("2."), completed.stdout


def notebook(path: Path, *cells: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells]), path)
    return path


@needs_tf_keras
@pytest.mark.kernel
def test_a_kernel_in_keras_2_mode_runs_keras_2_lines_and_one_in_keras_3_mode_does_not(tmp_path, run_options_for):
    path = notebook(tmp_path / "legacy.ipynb",
                    "import keras\nfrom tensorflow import keras as tfk\n"
                    "assert keras.__version__.startswith('2.'), keras.__version__\n"
                    "assert keras.layers.Dense is tfk.layers.Dense\n",
                    "model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n"
                    "model.compile(optimizer='adam', loss='mse', metrics='accuracy')\n"
                    "inner = keras.Model(model.input, model.layers[0].output)\n")
    spec = load_spec("fashion_cnn")
    cells = {}
    for keras in (2, 3):
        result = grade_submission(Submission("legacy", path), spec, load_expected(spec.reference),
                                  run_options_for("fashion_cnn", quick=True, keras=keras))
        cells[keras] = {d.cell: d.code for d in all_diagnoses(result) if d.cell in (1, 2)}
    assert cells[2] == {}
    assert cells[3][1] == "runtime_error" and cells[3][2] in MIGRATION | {"name_error"}


# --- The seeds, seed by seed -----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.parametrize("keras", [3, pytest.param(2, marks=needs_tf_keras)])
@pytest.mark.parametrize("seed", sorted(SEED_CODES))
def test_each_seed_gets_the_codes_of_its_keras_mode(seed, keras, run_options_for):
    spec = load_spec(EXERCISE_OF[seed])
    result = grade_submission(Submission(seed, SEEDS / f"{seed}.ipynb"), spec, load_expected(spec.reference),
                              run_options_for(spec.id, quick=True, timeout=300, keras=keras))
    under_3, under_2 = SEED_CODES[seed]
    diagnoses = [f"{d.code} ({d.cell}): {d.message}" for d in all_diagnoses(result)]
    assert student_codes(result) == (under_3 if keras == 3 else under_2), diagnoses
    assert result.checks and all(check.max_score >= check.score >= 0 for check in result.checks)


@needs_tf_keras
@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.parametrize("name", ["clean--passed--correct.ipynb", "clean--passed--correct_module.py"])
def test_the_same_correct_submission_scores_the_same_in_both_modes(name, run_options_for):
    spec = load_spec("fashion_cnn")
    path = ROOT / "examples" / "submissions" / "fashion_cnn" / name
    results = {keras: grade_submission(Submission(path.stem, path), spec, load_expected(spec.reference),
                                       run_options_for("fashion_cnn", quick=True, keras=keras))
               for keras in (3, 2)}
    verdicts = {keras: [(check.name, check.outcome, check.score) for check in result.checks]
                for keras, result in results.items()}
    assert verdicts[2] == verdicts[3]
    assert total_score(results[2]) == total_score(results[3]) > 0
    assert student_codes(results[2]) == student_codes(results[3]) == set()


# --- The evaluation process ----------------------------------------------------------------------

BUILD_BOTH = textwrap.dedent("""
    import sys
    import numpy as np
    import keras, tf_keras
    folder = sys.argv[1]
    def layers(k):
        return [k.Input((28, 28, 1)), k.layers.Conv2D(4, 3, activation="relu"), k.layers.MaxPooling2D(),
                k.layers.Flatten(), k.layers.Dense(10, activation="softmax")]
    legacy = tf_keras.Sequential(layers(tf_keras))
    legacy.save(f"{folder}/legacy.keras")
    current = keras.Sequential(layers(keras))
    current.set_weights(legacy.get_weights())
    current.save(f"{folder}/current.keras")
    print(legacy.count_params(), current.count_params())
""")


@needs_tf_keras
@pytest.mark.slow
def test_the_evaluation_predicts_the_same_for_the_same_weights_under_either_keras(tmp_path):
    from grader.data import EvaluationSet
    from grader.runner.evaluation import run_evaluation

    completed = subprocess.run([sys.executable, "-c", BUILD_BOTH, str(tmp_path)], capture_output=True, text=True,
                               timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    legacy_params, current_params = completed.stdout.split()
    assert legacy_params == current_params
    images = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    evaluation_set = EvaluationSet("random images", images, {"default": np.zeros(200, dtype=np.int64)})
    legacy = run_evaluation({"m": tmp_path / "legacy.keras"}, evaluation_set, timeout=240, keras=2).models["m"]
    current = run_evaluation({"m": tmp_path / "current.keras"}, evaluation_set, timeout=240, keras=3).models["m"]
    assert (legacy.problem, current.problem) == (None, None)
    assert len(set(current.predicted.tolist())) > 1, "the model predicts one class: the comparison shows nothing"
    assert np.array_equal(legacy.predicted, current.predicted)


# --- The reference models --------------------------------------------------------------------------

ENTRIES_UNDER_KERAS_2 = textwrap.dedent("""
    import json, sys
    from grader import reference
    reference.use_keras2()
    json.dump({exercise: reference.model_entries(exercise) for exercise in reference.EXERCISE_IDS}, sys.stdout)
""")
KERAS_2_DEFAULT_NAMES = {"model": "functional"}
"""Keras 2 names a functional model `model`, `model_1`, ...; Keras 3 `functional`, `functional_1`."""


def keras_3_names(value):
    """`value` with Keras 2's default model names as Keras 3 gives them."""
    if isinstance(value, dict):
        named = {key: keras_3_names(item) for key, item in value.items()}
        name = named.get("name")
        if isinstance(name, str):
            stem, _, number = name.partition("_")
            if stem in KERAS_2_DEFAULT_NAMES and (not number or number.isdigit()):
                named["name"] = KERAS_2_DEFAULT_NAMES[stem] + (f"_{number}" if number else "")
        return named
    if isinstance(value, list):
        return [keras_3_names(item) for item in value]
    return value


@needs_tf_keras
@pytest.mark.slow
def test_the_reference_models_built_under_keras_2_have_the_keras_3_tables():
    env = {**os.environ, **keras2.ENVIRONMENT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run([sys.executable, "-c", ENTRIES_UNDER_KERAS_2], env=env, capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    built = json.loads(completed.stdout)
    for exercise in EXERCISE_IDS:
        assert keras_3_names(built[exercise]) == load_expected(exercise)["models"], exercise


@pytest.mark.parametrize("exercise", EXERCISE_IDS)
def test_the_keras_2_recording_matches_the_keras_3_one(exercise):
    """`reference record --keras 2` wrote reference/expected/keras2/: the same tables and parameter
    counts, accuracies within a point of the Keras 3 ones, three seeds of full training each."""
    folder = expected_dir() / reference.KERAS2_FOLDER
    under_2, under_3 = load_expected(exercise, folder), load_expected(exercise)
    assert under_2["environment"]["keras_mode"] == 2 and under_2["recorded"]["full"] is True
    assert under_2["recorded"]["seeds"] == under_3["recorded"]["seeds"] >= 3
    assert keras_3_names(under_2["models"]) == under_3["models"]
    assert under_2["metrics"].keys() == under_3["metrics"].keys()
    accuracies = [name for name in under_3["metrics"] if name.endswith("accuracy")]
    assert accuracies
    for name in accuracies:
        assert abs(under_2["metrics"][name]["mean"] - under_3["metrics"][name]["mean"]) <= 0.01, name
