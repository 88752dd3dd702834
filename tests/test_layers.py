"""Layer tables recomputed from hand-written Keras 3 configs (grader/layers.py).

The numbers are the ones `model.summary()` prints for the seed notebooks' models under Keras
3.15; the committed expected files (reference/expected/*.json, recorded with real Keras) must
agree with both the numbers and the recomputed tables.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import configs
from grader.layers import LayerRow, LayerTable, activation_name, settings_of, table_from_config
from grader.resources import expected_dir
from grader.shapes import format_trace


def table(config: dict) -> LayerTable:
    return table_from_config("Functional" if "input_layers" in config else "Sequential", config)


def expected_models(exercise: str) -> dict:
    return json.loads((expected_dir() / f"{exercise}.json").read_text())["models"]


# builder, exercise and key in the expected file, parameters per layer, total, non-trainable
SEED_MODELS = [
    pytest.param(configs.fashion_cnn, "fashion_cnn", "cnn", [320, 0, 18496, 0, 0, 313700, 0, 1010], 333_526, 0,
                 id="fashion-cnn"),
    pytest.param(configs.fashion_cnn, "fashion_pooling", "max_pool", [320, 0, 18496, 0, 0, 313700, 0, 1010],
                 333_526, 0, id="fashion-max-pool"),
    pytest.param(configs.avg_pool_cnn, "fashion_pooling", "avg_pool", [320, 0, 9248, 0, 0, 28900, 0, 1010],
                 39_478, 0, id="fashion-avg-pool"),
    pytest.param(configs.dense_baseline, "fashion_conv_intro", "dense", [0, 100480, 1290], 101_770, 0,
                 id="fashion-dense"),
    pytest.param(configs.coursera_cnn, "fashion_conv_intro", "cnn", [640, 0, 36928, 0, 0, 204928, 1290],
                 243_786, 0, id="coursera-cnn"),
    pytest.param(configs.mnist_dense10, "mnist_models", "dense10", [7850], 7_850, 0, id="mnist-dense10"),
    pytest.param(configs.mnist_mlp, "mnist_models", "mlp", [78500, 10100, 0, 1010], 89_610, 0, id="mnist-mlp"),
    pytest.param(configs.mnist_cnn, "mnist_models", "cnn", [320, 0, 18496, 0, 36928, 0, 5770], 61_514, 0,
                 id="mnist-cnn"),
    pytest.param(configs.conv_only, "cnn_transfer", "conv_same", [56], 56, 0, id="conv-same"),
    pytest.param(lambda: configs.conv_only("valid"), "cnn_transfer", "conv_valid", [56], 56, 0, id="conv-valid"),
    pytest.param(configs.strided_cnn, "cnn_transfer", "strided",
                 [1792, 256, 0] + [36928, 256, 0] * 3 + [0, 771], 114_371, 512, id="strided"),
    pytest.param(configs.extractor, "cnn_transfer", "extractor", [3584, 512, 0, 0] + [147584, 512, 0, 0] * 3,
                 448_384, 1_024, id="extractor"),
    pytest.param(configs.classifier, "cnn_transfer", "classifier", [448_384, 0, 1539], 449_923, 1_024,
                 id="classifier"),
    pytest.param(configs.pooled_strided_cnn, "cnn_transfer", "pooled",
                 [1792, 256, 0, 0] + [36928, 256, 0, 0] * 3 + [0, 3], 113_603, 512, id="pooled"),
]


@pytest.mark.parametrize("builder, exercise, key, params, total, non_trainable", SEED_MODELS)
def test_recomputed_parameters(builder, exercise, key, params, total, non_trainable):
    recomputed = table(builder())
    assert [row.params for row in recomputed.rows] == params
    assert recomputed.params == total
    assert recomputed.params - recomputed.trainable_params == non_trainable
    assert recomputed.unknown_layers == ()


@pytest.mark.parametrize("builder, exercise, key, params, total, non_trainable", SEED_MODELS)
def test_expected_file_records_the_same_numbers(builder, exercise, key, params, total, non_trainable):
    entry = expected_models(exercise)[key]
    assert [row["params"] for row in entry["layers"]] == params
    assert entry["totals"] == {"params": total, "trainable": total - non_trainable, "non_trainable": non_trainable}


def _comparable(rows) -> list:
    """Everything but the layer names, which depend on how many layers Keras had made before."""
    return [(row.class_name, row.output_shape, row.params, row.trainable_params, row.settings,
             _comparable(row.children)) for row in rows]


@pytest.mark.parametrize("builder, exercise, key, params, total, non_trainable", SEED_MODELS)
def test_recomputed_table_matches_expected_file(builder, exercise, key, params, total, non_trainable):
    entry = expected_models(exercise)[key]
    recomputed = table(builder())
    assert _comparable(recomputed.rows) == _comparable(LayerRow.from_json(row) for row in entry["layers"])
    assert list(recomputed.input_shape) == entry["input_shape"]


def test_every_expected_model_has_a_hand_written_config():
    covered = {(param.values[1], param.values[2]) for param in SEED_MODELS}
    recorded = {(path.stem, key) for path in expected_dir().glob("*.json")
                for key in json.loads(path.read_text())["models"]}
    assert recorded == covered


@pytest.mark.parametrize("builder, shapes", [
    (configs.fashion_cnn, [(None, 28, 28, 32), (None, 14, 14, 32), (None, 14, 14, 64), (None, 7, 7, 64),
                           (None, 3136), (None, 100), (None, 100), (None, 10)]),
    (configs.avg_pool_cnn, [(None, 28, 28, 32), (None, 9, 9, 32), (None, 9, 9, 32), (None, 3, 3, 32),
                            (None, 288), (None, 100), (None, 100), (None, 10)]),
    (configs.mnist_mlp, [(None, 100), (None, 100), (None, 100), (None, 10)]),
    (configs.strided_cnn, [(None, 16, 16, 64)] * 3 + [(None, 8, 8, 64)] * 3 + [(None, 4, 4, 64)] * 3
     + [(None, 2, 2, 64)] * 3 + [(None, 256), (None, 3)]),
    (configs.classifier, [(None, 2, 2, 128), (None, 512), (None, 3)]),
])
def test_output_shapes(builder, shapes):
    assert [row.output_shape for row in table(builder()).rows] == shapes


@pytest.mark.parametrize("channels, center, scale, trainable, total, learned", [
    (64, True, True, True, 256, 128),     # gamma, beta learned; moving mean and variance not
    (128, True, True, True, 512, 256),
    (32, False, True, True, 96, 32),
    (32, False, False, True, 64, 0),
    (64, True, True, False, 256, 0),      # a frozen layer learns nothing
])
def test_batch_normalization_parameters(channels, center, scale, trainable, total, learned):
    norm = configs.batch_norm("batch_normalization")
    norm["config"].update(center=center, scale=scale, trainable=trainable)
    row = table(configs.sequential([norm], (8, 8, channels))).rows[0]
    assert (row.params, row.trainable_params, row.non_trainable_params) == (total, learned, total - learned)
    assert row.output_shape == (None, 8, 8, channels)


@pytest.mark.parametrize("layers, params", [
    ([configs.conv2d("conv2d", 8, kernel=5, use_bias=False)], 5 * 5 * 3 * 8),
    ([configs.conv2d("conv2d", 8, kernel=(1, 3))], 1 * 3 * 3 * 8 + 8),
    ([configs.conv2d("conv2d", 8, kernel=3, dilation=2)], 3 * 3 * 3 * 8 + 8),
    ([configs.flatten(), configs.dense("dense", 4, use_bias=False)], 10 * 10 * 3 * 4),
    ([configs.dense("dense", 4)], 3 * 4 + 4),  # Dense on a map acts on the last axis
])
def test_parameter_formulas(layers, params):
    assert table(configs.sequential(layers, (10, 10, 3))).rows[-1].params == params


def test_frozen_dense_counts_no_trainable_parameters():
    frozen = configs.dense("dense", 10)
    frozen["config"]["trainable"] = False
    row = table(configs.sequential([frozen], (784,))).rows[0]
    assert (row.params, row.trainable_params) == (7850, 0)


def test_nested_extractor_keeps_its_rows_and_trace():
    classifier = table(configs.classifier())
    extractor_row = classifier.rows[0]
    assert extractor_row.class_name == "Functional"
    assert len(extractor_row.children) == 16
    assert extractor_row.non_trainable_params == 1_024
    assert extractor_row.children[-1].output_shape == (None, 2, 2, 128)
    assert [step.size_out for step in classifier.trace][-1] == (2, 2)
    assert len(classifier.trace) == 8  # the extractor's 4 convolutions and 4 poolings


def test_strided_model_with_pooling_in_every_block_collapses_at_the_third_pooling():
    pooled = table(configs.pooled_strided_cnn())
    step = pooled.collapse
    assert step is not None
    assert (step.layer, step.class_name) == ("max_pooling2d_2", "MaxPooling2D")
    assert (step.size_in, step.window, step.size_out) == ((1, 1), (2, 2), (0, 0))
    leading = list(pooled.trace[: pooled.trace.index(step) + 1])
    sizes = re.findall(r"\d+x\d+", format_trace(leading))
    assert sizes == ["32x32", "16x16", "8x8", "4x4", "2x2", "1x1", "0x0"]


@pytest.mark.parametrize("builder", [configs.fashion_cnn, configs.strided_cnn, configs.classifier,
                                     configs.mnist_cnn, configs.avg_pool_cnn])
def test_models_that_build_do_not_collapse(builder):
    assert table(builder()).collapse is None


def test_unknown_layer_class_gives_none_and_is_listed():
    custom = configs.layer("SpectralPooling", "spectral_pooling", factor=2)
    recomputed = table(configs.sequential([configs.conv2d("conv2d", 8), custom, configs.flatten(),
                                           configs.dense("dense", 10)], (28, 28, 1)))
    row = recomputed.rows[1]
    assert (row.output_shape, row.params, row.trainable_params) == (None, None, None)
    assert "spectral_pooling" in recomputed.unknown_layers
    assert recomputed.rows[-1].params is None  # everything after it is unknown too
    assert recomputed.params is None and recomputed.trainable_params is None


def test_layer_with_two_inputs_is_listed_once():
    source = configs.input_layer((8, 8, 3))
    config = {
        "name": "functional", "input_layers": ["input_layer", 0, 0], "output_layers": ["add", 0, 0],
        "layers": [
            {**source, "name": "input_layer", "inbound_nodes": []},
            {**configs.conv2d("left", 4, padding="same"), "name": "left",
             "inbound_nodes": configs.inbound("input_layer")},
            {**configs.conv2d("right", 4, padding="same"), "name": "right",
             "inbound_nodes": configs.inbound("input_layer")},
            {**configs.layer("Add", "add"), "name": "add", "inbound_nodes": configs.inbound("left", "right")},
        ],
    }
    recomputed = table(config)
    assert [row.output_shape for row in recomputed.rows[:2]] == [(None, 8, 8, 4)] * 2
    assert recomputed.unknown_layers == ("add",)


@pytest.mark.parametrize("layers", [
    [configs.conv2d("conv2d", 32, activation="relu"), configs.max_pool("max_pooling2d"), configs.flatten(),
     configs.dense("dense", 10)],
    [configs.dense("dense", 10)],
    [configs.batch_norm("batch_normalization"), configs.dropout(), configs.activation("activation")],
])
def test_sequential_without_input_shape_gives_none_shapes(layers):
    recomputed = table(configs.sequential(layers))
    assert recomputed.input_shape is None
    assert all(row.output_shape is None for row in recomputed.rows)
    assert recomputed.trace == ()


@pytest.mark.parametrize("where", ["argument", "build_input_shape", "build_config", "batch_input_shape",
                                   "first_layer_batch_input_shape"])
def test_sequential_input_shape_sources(where):
    conv = configs.conv2d("conv2d", 4)
    config = configs.sequential([conv])
    argument = None
    if where == "argument":
        argument = (None, 28, 28, 1)
    elif where == "build_input_shape":
        config["build_input_shape"] = [None, 28, 28, 1]
    elif where == "build_config":
        conv["build_config"] = {"input_shape": [None, 28, 28, 1]}
    elif where == "first_layer_batch_input_shape":  # Keras 2: Conv2D(..., input_shape=(28, 28, 1))
        conv["config"]["batch_input_shape"] = [None, 28, 28, 1]
    else:  # Keras 2 wrote the input shape into an InputLayer's batch_input_shape
        config["layers"].insert(0, {"class_name": "InputLayer",
                                    "config": {"batch_input_shape": [None, 28, 28, 1], "name": "input_1"}})
    recomputed = table_from_config("Sequential", config, argument)
    assert recomputed.input_shape == (None, 28, 28, 1)
    assert recomputed.rows[-1].output_shape == (None, 26, 26, 4)


def test_functional_with_keras2_inbound_nodes():
    config = configs.functional([configs.flatten(), configs.dense("dense", 10)], (28, 28))
    for entry in config["layers"][1:]:
        source = entry["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0]
        entry["inbound_nodes"] = [[[source, 0, 0, {}]]]
    recomputed = table(config)
    assert recomputed.rows[-1].output_shape == (None, 10)
    assert recomputed.params == 7850


def test_channels_first_convolution():
    conv = configs.conv2d("conv2d", 8)
    conv["config"]["data_format"] = "channels_first"
    row = table(configs.sequential([conv], (3, 32, 32))).rows[0]
    assert (row.output_shape, row.params) == ((None, 8, 30, 30), 3 * 3 * 3 * 8 + 8)


@pytest.mark.parametrize("config, settings_expected", [
    ({"units": 10, "activation": "softmax", "use_bias": True, "kernel_initializer": {}},
     {"units": 10, "activation": "softmax", "use_bias": True}),
    ({"kernel_size": (3, 3), "strides": [1.0, 1.0], "padding": "same", "filters": 8},
     {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "filters": 8}),
    ({"rate": 0.4, "seed": None, "noise_shape": None}, {"rate": 0.4}),
    ({"pool_size": [2, 2], "strides": None}, {"pool_size": [2, 2]}),
])
def test_settings_of_keeps_what_is_graded(config, settings_expected):
    assert settings_of(config) == settings_expected


@pytest.mark.parametrize("value, name", [
    ("relu", "relu"),
    ("ReLU", "relu"),
    ({"module": "keras.activations", "class_name": "function", "config": "softmax"}, "softmax"),
    ({"class_name": "ReLU", "config": {"name": "re_lu"}}, "re_lu"),
    ({"class_name": "LeakyReLU", "config": {}}, "leakyrelu"),
])
def test_activation_name(value, name):
    assert activation_name(value) == name


@pytest.mark.parametrize("builder", [configs.fashion_cnn, configs.classifier, configs.strided_cnn])
def test_rows_survive_json(builder):
    recomputed = table(builder())
    data = json.loads(json.dumps(recomputed.to_json()))
    rows = tuple(LayerRow.from_json(row) for row in data["layers"])
    assert rows == recomputed.rows
    assert _comparable(rows) == _comparable(recomputed.rows)
    assert data["totals"]["params"] == recomputed.params


SPATIAL_LAYERS = st.one_of(
    st.builds(lambda kernel, strides, padding: ("conv", kernel, strides, padding),
              st.integers(1, 4), st.integers(1, 2), st.sampled_from(["same", "valid"])),
    st.builds(lambda pool, padding: ("pool", pool, None, padding),
              st.integers(1, 3), st.sampled_from(["same", "valid"])),
)


@settings(database=None, deadline=None, max_examples=60)
@given(size=st.integers(1, 40), plan=st.lists(SPATIAL_LAYERS, min_size=1, max_size=6))
def test_trace_chains_sizes_from_layer_to_layer(size, plan):
    layers = []
    for index, (kind, window, strides, padding) in enumerate(plan):
        if kind == "conv":
            layers.append(configs.conv2d(f"conv2d_{index}", 4, kernel=window, strides=strides, padding=padding))
        else:
            layers.append(configs.max_pool(f"max_pooling2d_{index}", window, padding=padding))
    recomputed = table(configs.sequential(layers, (size, size, 3)))
    assert len(recomputed.trace) == len(plan)
    assert recomputed.trace[0].size_in == (size, size)
    for before, after in zip(recomputed.trace, recomputed.trace[1:]):
        assert after.size_in == before.size_out
    for row, step in zip(recomputed.rows, recomputed.trace):
        assert row.output_shape[1:3] == step.size_out
    collapsed = [step for step in recomputed.trace if step.collapsed]
    assert recomputed.collapse == (collapsed[0] if collapsed else None)
