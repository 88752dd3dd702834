"""Seed 004: convolution and pooling on 32x32x3 images, a shared feature extractor saved and
reloaded, and transfer from coarse to fine classes.

Where CIFAR-100 is present the data are its three mammal superclasses (15 fine classes); offline
it is Fashion-MNIST padded to 32x32x3 with 4 coarse groups and its 10 classes as the fine ones,
at the seed's scale (7,500 training and 1,500 test images). Protocol for the gain: the
extractor with a coarse head trains 3 epochs (batch 32) on all training images, is saved as
.keras and reloaded; the reloaded extractor, frozen, gets a new fine head trained 5 epochs
(batch 200, as in the seed) on 2,000 fine-labelled images; the same architecture trains from
scratch under the same budget. Adam throughout.

Why batch 32 for the coarse stage: with the seed's batch of 200, three epochs are 114 steps,
too few for BatchNormalization's moving statistics (momentum 0.99) to leave their initial
values, and the recorded coarse classifier predicted the majority class at test time (0.5).
"""

from __future__ import annotations

import numpy as np

from . import RunOptions, accuracy

DESCRIPTIONS = {
    "conv_same": "Conv2D(2, 3, padding='same') on 32x32x3: (None, 32, 32, 2), 56 parameters",
    "conv_valid": "Conv2D(2, 3, padding='valid') on 32x32x3: (None, 30, 30, 2)",
    "strided": "4 x [Conv64 3x3 stride 2 same, BatchNorm, ReLU], Flatten, Dense3",
    "extractor": "shared extractor: 4 x [Conv128 3x3 same, BatchNorm, ReLU, MaxPool2] on 32x32x3",
    "classifier": "Input, extractor, Flatten, Dense3 softmax (the seed's three mammal superclasses)",
}
GRADED_METRICS = ("classifier.coarse_test_accuracy", "transfer.fine_test_accuracy", "transfer.gain")
TRAINING = {
    "data": "CIFAR-100 mammals where present, else Fashion-MNIST padded to 32x32x3 "
            "(7,500 train / 1,500 test; coarse: tops 0,2,3,4,6; trousers 1; footwear 5,7,9; bags 8)",
    "optimizer": "adam",
    "loss": "categorical_crossentropy",
    "metrics": ["accuracy"],
    "coarse_batch_size": 32,
    "coarse_epochs": 3,
    "fine_batch_size": 200,
    "fine_images": 2000,
    "fine_epochs": 5,
    "transfer": "reloaded extractor frozen, new Dense(fine classes) head",
    "scratch": "same architecture, fresh weights, all trainable, same budget",
}
FINE_IMAGES = 2000


def build_conv(padding: str):
    import tensorflow as tf

    model = tf.keras.Sequential()
    model.add(tf.keras.Input((32, 32, 3)))
    model.add(tf.keras.layers.Conv2D(filters=2, kernel_size=(3, 3), strides=(1, 1), padding=padding))
    return model


def strided_layers(pool: bool):
    """The seed's block loop; with `pool=True` it adds the MaxPool2D that collapses the map."""
    import tensorflow as tf

    layers = []
    for _ in range(4):
        layers += [
            tf.keras.layers.Conv2D(filters=2**6, kernel_size=3, strides=2, padding="same"),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.Activation("relu"),
        ]
        if pool:
            layers.append(tf.keras.layers.MaxPool2D())
    return layers + [tf.keras.layers.Flatten(), tf.keras.layers.Dense(3, "softmax")]


def build_strided():
    import tensorflow as tf

    return tf.keras.Sequential([tf.keras.Input((32, 32, 3)), *strided_layers(pool=False)])


def pooled_config() -> dict:
    """The config of the strided model with MaxPool2D in every block, which Keras cannot build."""
    import re

    layers = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 32, 32, 3], "name": "input_layer"}}]
    seen: dict[str, int] = {}
    for layer in strided_layers(pool=True):
        config = layer.get_config()
        # Names as a fresh Keras session would give them: conv2d, conv2d_1, ...
        base = re.sub(r"_\d+$", "", config["name"])
        count = seen.get(base, 0)
        seen[base] = count + 1
        config["name"] = base if count == 0 else f"{base}_{count}"
        layers.append({"class_name": type(layer).__name__, "config": config})
    return {"name": "model_pool", "layers": layers}


def build_extractor():
    import tensorflow as tf

    input_layer = tf.keras.Input((32, 32, 3))
    pool = input_layer
    for _ in range(4):
        conv = tf.keras.layers.Conv2D(filters=2**7, kernel_size=3, padding="same")(pool)
        batch = tf.keras.layers.BatchNormalization()(conv)
        activ = tf.keras.layers.Activation("relu")(batch)
        pool = tf.keras.layers.MaxPool2D()(activ)
    return tf.keras.models.Model(input_layer, pool)


def with_head(extractor, classes: int):
    import tensorflow as tf

    inputs = tf.keras.Input((32, 32, 3))
    flat = tf.keras.layers.Flatten()(extractor(inputs))
    outputs = tf.keras.layers.Dense(classes, activation="softmax")(flat)
    return tf.keras.models.Model(inputs, outputs)


def build_classifier():
    return with_head(build_extractor(), 3)


MODELS = {
    "conv_same": lambda: build_conv("same"),
    "conv_valid": lambda: build_conv("valid"),
    "strided": build_strided,
    "extractor": build_extractor,
    "classifier": build_classifier,
}
KNOWN_WRONG = {"pooled": pooled_config}


def train(seed: int, run: RunOptions) -> dict[str, float]:
    import keras

    from grader.data import load_transfer_data

    data = load_transfer_data(run.data_dir)
    x_train = data["x_train"].astype("float32") / 255.0
    x_test = data["x_test"].astype("float32") / 255.0
    coarse, fine = data["y_train_coarse"], data["y_train_fine"]
    x_train, coarse, fine = run.limit(x_train, coarse, fine)
    coarse_classes = int(data["y_train_coarse"].max()) + 1
    fine_classes = int(data["y_train_fine"].max()) + 1
    coarse_batch, fine_batch, epochs_coarse, epochs_fine = 32, 200, run.epochs(3), run.epochs(5)

    keras.utils.set_random_seed(seed)
    extractor = build_extractor()
    classifier = with_head(extractor, coarse_classes)
    classifier.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    classifier.fit(x_train, keras.utils.to_categorical(coarse, coarse_classes), batch_size=coarse_batch,
                   epochs=epochs_coarse, verbose=0, callbacks=[run.progress("coarse classifier", epochs_coarse)])
    metrics = {"classifier.coarse_test_accuracy": accuracy(classifier, x_test, data["y_test_coarse"])}

    saved = run.workdir / "shared_model.keras"
    extractor.save(saved)
    reloaded = keras.models.load_model(saved)
    metrics["extractor.reload_identical"] = float(all(
        np.array_equal(a, b) for a, b in zip(extractor.get_weights(), reloaded.get_weights())
    ))

    rows = np.random.default_rng(seed).permutation(len(x_train))[:FINE_IMAGES]
    fine_x, fine_y = x_train[rows], keras.utils.to_categorical(fine[rows], fine_classes)
    reloaded.trainable = False
    keras.utils.set_random_seed(seed)
    for key, base in (("transfer", reloaded), ("scratch", None)):
        if base is None:
            keras.utils.set_random_seed(seed)
            base = build_extractor()
        model = with_head(base, fine_classes)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(fine_x, fine_y, batch_size=fine_batch, epochs=epochs_fine, verbose=0,
                  callbacks=[run.progress(f"{key} fine head", epochs_fine)])
        metrics[f"{key}.fine_test_accuracy"] = accuracy(model, x_test, data["y_test_fine"])
    metrics["transfer.gain"] = metrics["transfer.fine_test_accuracy"] - metrics["scratch.fine_test_accuracy"]
    metrics["data.coarse_classes"] = coarse_classes
    metrics["data.fine_classes"] = fine_classes
    return metrics
