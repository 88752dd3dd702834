"""The layer tables read Keras 2 configs into the table they read from Keras 3 ones.

Each file in tests/data/keras2_configs/ holds one architecture's `get_config()` as tf-keras 2.21
and Keras 3.15 wrote it (tests/data/keras2_configs/generate.py), with each Keras's own parameter
count. Pure: no TensorFlow is imported here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.checks.alignment import align_layers
from grader.layers import table_from_config
from grader.reference import expected_rows, load_expected
from test_keras2 import keras_3_names  # Keras 2's default model names (`model`) as Keras 3's

CONFIGS = Path(__file__).resolve().parent / "data" / "keras2_configs"
NAMES = sorted(path.stem for path in CONFIGS.glob("*.json"))


def tables(name: str):
    entry = json.loads((CONFIGS / f"{name}.json").read_text())
    return ({label: table_from_config(entry[label]["class_name"], entry[label]["config"]) for label in entry},
            entry)


def test_the_fixtures_are_there_and_hold_both_formats():
    assert len(NAMES) == 4
    for name in NAMES:
        entry = json.loads((CONFIGS / f"{name}.json").read_text())
        assert entry["keras2"]["version"].startswith("2.") and entry["keras3"]["version"].startswith("3.")


@pytest.mark.parametrize("name", NAMES)
def test_a_keras_2_config_gives_the_keras_3_table(name):
    by_keras, entry = tables(name)
    assert keras_3_names(by_keras["keras2"].to_json()) == by_keras["keras3"].to_json()
    for label, table in by_keras.items():
        assert table.params == entry[label]["params"], label  # what Keras itself counted
        assert all(row.output_shape is not None for row in table.rows), label


def test_the_formats_really_differ_where_the_tables_must_not():
    """What the test above covers: Keras 2's batch_input_shape and its functional graph."""
    sequential = json.loads((CONFIGS / "fashion_cnn_input_shape.json").read_text())
    assert "batch_input_shape" in json.dumps(sequential["keras2"]["config"])
    assert "batch_input_shape" not in json.dumps(sequential["keras3"]["config"])
    functional = json.loads((CONFIGS / "strided_functional.json").read_text())
    inbound = [layer["inbound_nodes"] for layer in functional["keras2"]["config"]["layers"] if layer["inbound_nodes"]]
    assert isinstance(inbound[0][0][0], list)  # [[["input_1", 0, 0, {}]]]
    assert inbound != [layer["inbound_nodes"] for layer in functional["keras3"]["config"]["layers"]
                       if layer["inbound_nodes"]]


def test_seed_000s_keras_2_model_aligns_with_the_expected_cnn_layer_for_layer():
    by_keras, _ = tables("fashion_cnn_input_shape")
    expected = expected_rows(load_expected("fashion_cnn")["models"]["cnn"])
    for label, table in by_keras.items():
        pairs = align_layers(expected, table.rows)
        assert all(want is not None and got is not None for want, got in pairs), label
        assert [got.output_shape for _, got in pairs] == [want.output_shape for want, _ in pairs], label
        assert [row.params for row in table.rows] == [row.params for row in expected], label


def test_the_frozen_extractor_counts_its_frozen_parameters_in_either_format():
    by_keras, _ = tables("frozen_extractor_classifier")
    (extractor,) = [row for row in by_keras["keras2"].rows if row.class_name == "Functional"]
    assert extractor.trainable_params == 0
    assert by_keras["keras2"].rows[0].params == by_keras["keras3"].rows[0].params
