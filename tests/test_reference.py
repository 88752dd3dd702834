"""Reference models, built fresh with Keras, against the seeds' numbers and the committed
expected files (layer 3: imports TensorFlow)."""

from __future__ import annotations

import pytest

from grader.reference import EXERCISE_IDS, keras_table, load_expected, model_entries
from grader.resources import load_reference_module

pytestmark = pytest.mark.slow

# (exercise, model key): per-layer parameter counts of the layers that have parameters, total,
# non-trainable, output shape of the last layer, as the seed notebooks print them.
SEED_NUMBERS = [
    ("fashion_cnn", "cnn", [320, 18496, 313700, 1010], 333_526, 0, (None, 10)),
    ("fashion_pooling", "avg_pool", [320, 9248, 28900, 1010], 39_478, 0, (None, 10)),
    ("fashion_pooling", "max_pool", [320, 18496, 313700, 1010], 333_526, 0, (None, 10)),
    ("fashion_conv_intro", "dense", [100480, 1290], 101_770, 0, (None, 10)),
    ("fashion_conv_intro", "cnn", [640, 36928, 204928, 1290], 243_786, 0, (None, 10)),
    ("mnist_models", "dense10", [7850], 7_850, 0, (None, 10)),
    ("mnist_models", "mlp", [78500, 10100, 1010], 89_610, 0, (None, 10)),
    ("mnist_models", "cnn", [320, 18496, 36928, 5770], 61_514, 0, (None, 10)),
    ("cnn_transfer", "conv_same", [56], 56, 0, (None, 32, 32, 2)),
    ("cnn_transfer", "conv_valid", [56], 56, 0, (None, 30, 30, 2)),
    ("cnn_transfer", "extractor", [3584, 512, 147584, 512, 147584, 512, 147584, 512], 448_384, 1_024,
     (None, 2, 2, 128)),
    ("cnn_transfer", "classifier", [448_384, 1539], 449_923, 1_024, (None, 3)),
]


def counts(entry: dict) -> list[int]:
    return [layer["params"] for layer in entry["layers"] if layer["params"]]


@pytest.fixture(scope="module")
def fresh_entries():
    return {exercise: model_entries(exercise) for exercise in EXERCISE_IDS}


@pytest.mark.parametrize("exercise, key, per_layer, total, frozen, output", SEED_NUMBERS,
                         ids=[f"{e}.{k}" for e, k, *_ in SEED_NUMBERS])
def test_fresh_models_have_the_seeds_numbers(fresh_entries, exercise, key, per_layer, total, frozen, output):
    entry = fresh_entries[exercise][key]
    assert counts(entry) == per_layer
    assert entry["totals"]["params"] == total
    assert entry["totals"]["non_trainable"] == frozen
    assert tuple(entry["layers"][-1]["output_shape"]) == output


@pytest.mark.parametrize("exercise", EXERCISE_IDS)
def test_committed_expected_files_match_freshly_built_models(fresh_entries, exercise):
    committed = load_expected(exercise)["models"]
    assert committed == fresh_entries[exercise]


@pytest.mark.parametrize("exercise", EXERCISE_IDS)
def test_committed_expected_files_were_trained_fully_with_three_seeds(exercise):
    expected = load_expected(exercise)
    assert expected["recorded"]["full"] is True and expected["recorded"]["seeds"] >= 3
    for name, threshold in expected["thresholds"].items():
        values = expected["metrics"][name]["values"]
        assert len(values) >= 3 and threshold["pass"] < min(values)


def test_the_seed_004_pooled_model_is_recorded_as_collapsing_at_the_third_pool(fresh_entries):
    pooled = fresh_entries["cnn_transfer"]["pooled"]
    assert pooled["known_wrong"] is True
    assert pooled["collapse"] == {"layer": "max_pooling2d_2", "size_in": [1, 1], "window": [2, 2]}


def test_the_recomputed_table_agrees_with_keras_for_every_reference_model():
    for exercise in EXERCISE_IDS:
        for builder in load_reference_module(exercise).MODELS.values():
            keras_table(builder())  # raises ReferenceMismatch on any disagreement
