"""Seed 002 (the Coursera lab): a dense baseline against a CNN with 'valid' convolutions, both
trained 5 epochs on all 60,000 Fashion-MNIST images with Adam; the CNN must beat the baseline.
The lab's activation model returns every layer's output."""

from __future__ import annotations

from . import RunOptions, accuracy

DESCRIPTIONS = {
    "dense": "Flatten, Dense128 relu, Dense10 softmax",
    "cnn": "Conv64 valid, MaxPool2, Conv64 valid, MaxPool2, Flatten, Dense128, Dense10",
}
GRADED_METRICS = ("dense.test_accuracy", "cnn.test_accuracy", "cnn.gain_over_dense")
TRAINING = {
    "data": "fashion_mnist, all 60,000 training images, scaled /255; test on the 10,000",
    "optimizer": "adam",
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
    "batch_size": 32,
    "epochs": 5,
}


def build_dense():
    from keras import Input, Sequential, layers

    return Sequential([
        Input((28, 28)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def build_cnn():
    from keras import Input, Sequential, layers

    return Sequential([
        Input((28, 28, 1)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


MODELS = {"dense": build_dense, "cnn": build_cnn}


def build_activation_model(model):
    """The lab's activation model: one output per layer of `model`, from its input."""
    from keras import Model

    return Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])


def train(seed: int, run: RunOptions) -> dict[str, float]:
    import keras

    from grader.data import load_fashion_mnist

    (train_images, train_labels), (test_images, test_labels) = load_fashion_mnist(run.data_dir)
    train_images = train_images.astype("float32") / 255.0
    test_images = test_images.astype("float32") / 255.0
    train_images, train_labels = run.limit(train_images, train_labels)
    if run.train_limit:
        test_images, test_labels = test_images[: run.train_limit], test_labels[: run.train_limit]
    metrics: dict[str, float] = {}
    for key, builder, images, tests in (
        ("dense", build_dense, train_images, test_images),
        ("cnn", build_cnn, train_images[..., None], test_images[..., None]),
    ):
        keras.utils.set_random_seed(seed)
        model = builder()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        epochs = run.epochs(5)
        history = model.fit(images, train_labels, epochs=epochs, verbose=0,
                            callbacks=[run.progress(key, epochs)])
        metrics[f"{key}.train_accuracy"] = float(history.history["accuracy"][-1])
        metrics[f"{key}.test_accuracy"] = accuracy(model, tests, test_labels)
        if key == "cnn":
            activations = build_activation_model(model)
            metrics["cnn.activation_outputs"] = len(activations.outputs)
    metrics["cnn.gain_over_dense"] = metrics["cnn.test_accuracy"] - metrics["dense.test_accuracy"]
    return metrics
