"""Write the model configs that tests/test_keras2_tables.py reads: each architecture built under
Keras 2 (tf-keras) and under Keras 3, its `get_config()` as each Keras writes it.

    python3 tests/data/keras2_configs/generate.py

Needs tf-keras (`pip install 'cnngrader[keras2]'`); a few seconds. The two formats differ where
the grader must read both: `batch_input_shape` on a Sequential's first layer (or an InputLayer
entry in its layer list), `inbound_nodes` as nested lists (Keras 2) or call arguments (Keras 3),
and the default model names (`model`, `functional`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402  Keras 3
import tf_keras  # noqa: E402  Keras 2

HERE = Path(__file__).resolve().parent


def fashion_cnn_input_shape(k):
    """Seed 000 as written: `input_shape=` on the first layer (Keras 2's batch_input_shape)."""
    return k.Sequential([
        k.layers.Conv2D(32, (3, 3), activation="relu", padding="same", input_shape=(28, 28, 1)),
        k.layers.MaxPooling2D((2, 2)),
        k.layers.Conv2D(64, (3, 3), activation="relu", padding="same"),
        k.layers.MaxPooling2D((2, 2)),
        k.layers.Flatten(),
        k.layers.Dense(100, activation="relu"),
        k.layers.Dropout(0.4),
        k.layers.Dense(10, activation="softmax"),
    ])


def pooling_with_input(k):
    """Seed 001's average pooling, built with an Input first."""
    return k.Sequential([
        k.Input((28, 28, 1)),
        k.layers.Conv2D(32, 3, activation="relu"),
        k.layers.AveragePooling2D(3),
        k.layers.Conv2D(64, 3, activation="relu"),
        k.layers.AveragePooling2D(3),
        k.layers.Flatten(),
        k.layers.Dense(10, activation="softmax"),
    ])


def strided_functional(k):
    """Seed 004's strided CNN, functional, with BatchNormalization."""
    inputs = k.Input((32, 32, 3))
    x = inputs
    for _ in range(4):
        x = k.layers.Conv2D(64, 3, strides=2, padding="same")(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.Activation("relu")(x)
    outputs = k.layers.Dense(3, activation="softmax")(k.layers.Flatten()(x))
    return k.Model(inputs, outputs)


def frozen_extractor_classifier(k):
    """Seed 004's shared extractor, frozen, nested in a classifier: a model inside a model."""
    inputs = k.Input((32, 32, 3))
    x = inputs
    for _ in range(4):
        x = k.layers.Conv2D(128, 3, padding="same")(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.Activation("relu")(x)
        x = k.layers.MaxPool2D()(x)
    extractor = k.Model(inputs, x)
    extractor.trainable = False
    outer = k.Input((32, 32, 3))
    outputs = k.layers.Dense(10, activation="softmax")(k.layers.Flatten()(extractor(outer)))
    return k.Model(outer, outputs)


ARCHITECTURES = {"fashion_cnn_input_shape": fashion_cnn_input_shape, "pooling_with_input": pooling_with_input,
                 "strided_functional": strided_functional,
                 "frozen_extractor_classifier": frozen_extractor_classifier}


def config_of(model) -> dict:
    return {"class_name": "Sequential" if type(model).__name__ == "Sequential" else "Functional",
            "config": model.get_config(), "params": int(model.count_params())}


def main() -> None:
    for name, build in ARCHITECTURES.items():
        entry = {}
        for label, k in (("keras2", tf_keras), ("keras3", keras)):
            k.backend.clear_session()
            entry[label] = {"version": k.__version__, **config_of(build(k))}
        (HERE / f"{name}.json").write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n")
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
