"""Seed 003: the MNIST ladder. A single Dense(10) on 784 inputs, an MLP (100, 100, then a no-op
Flatten and Dense10), and a CNN of three 'valid' convolutions; rmsprop, categorical
cross-entropy on one-hot labels, 30 epochs (batch 128 for Dense10, 200 for the others).
Accuracies rise in that order. Offline the data is the `mnist-10k` subset (8,000 / 2,000)."""

from __future__ import annotations

from . import RunOptions, accuracy

DESCRIPTIONS = {
    "dense10": "Dense10 softmax on 784 inputs",
    "mlp": "Dense100, Dense100, Flatten, Dense10",
    "cnn": "Conv32 valid, MaxPool2, Conv64 valid, MaxPool2, Conv64 valid, Flatten, Dense10",
}
GRADED_METRICS = ("dense10.test_accuracy", "mlp.test_accuracy", "cnn.test_accuracy")
TRAINING = {
    "data": "mnist (full set where present, else the mnist-10k subset), scaled /255, one-hot labels",
    "optimizer": "rmsprop",
    "loss": "categorical_crossentropy",
    "metrics": ["accuracy"],
    "epochs": 30,
    "batch_size": {"dense10": 128, "mlp": 200, "cnn": 200},
}
BATCH = TRAINING["batch_size"]


def build_dense10():
    from keras import Input, Sequential, layers

    return Sequential([Input((784,)), layers.Dense(10, activation="softmax")])


def build_mlp():
    from keras import Input, Sequential, layers

    return Sequential([
        Input((784,)),
        layers.Dense(100, activation="relu"),
        layers.Dense(100, activation="relu"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])


def build_cnn():
    from keras import Input, Sequential, layers

    return Sequential([
        Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])


MODELS = {"dense10": build_dense10, "mlp": build_mlp, "cnn": build_cnn}


def load_digits(run: RunOptions):
    """Full MNIST where it can be found or downloaded, else the mnist-10k subset; says which."""
    from grader.data import DataUnavailable, load_mnist, load_mnist_10k

    try:
        return load_mnist(run.data_dir), "mnist"
    except DataUnavailable:
        return load_mnist_10k(run.data_dir), "mnist-10k"


def train(seed: int, run: RunOptions) -> dict[str, float]:
    import keras

    ((train_images, train_labels), (test_images, test_labels)), source = load_digits(run)
    train_images = train_images.astype("float32") / 255.0
    test_images = test_images.astype("float32") / 255.0
    train_images, train_labels = run.limit(train_images, train_labels)
    one_hot = keras.utils.to_categorical(train_labels, 10)
    metrics: dict[str, float] = {"data.train_images": len(train_images), "data.test_images": len(test_images)}
    for key, builder in MODELS.items():
        keras.utils.set_random_seed(seed)
        model = builder()
        shape = (-1, 28, 28, 1) if key == "cnn" else (-1, 784)
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
        epochs = run.epochs(30)
        model.fit(train_images.reshape(shape), one_hot, epochs=epochs, batch_size=BATCH[key],
                  verbose=0, callbacks=[run.progress(key, epochs)])
        metrics[f"{key}.test_accuracy"] = accuracy(model, test_images.reshape(shape), test_labels)
    metrics["data.source_is_full_mnist"] = float(source == "mnist")
    return metrics
