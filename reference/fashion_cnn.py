"""Fashion-MNIST CNN of seeds 000 and 001: two 'same' convolutions with max pooling, Dense(100),
Dropout(0.4), Dense(10); Adam, ModelCheckpoint(save_best_only) and EarlyStopping(patience=2,
restore_best_weights=True), at most 20 epochs."""

from __future__ import annotations

import numpy as np

from . import RunOptions, accuracy

DESCRIPTIONS = {
    "cnn": "Conv32 same, MaxPool2, Conv64 same, MaxPool2, Flatten, Dense100, Dropout .4, Dense10",
}
GRADED_METRICS = ("cnn.best_val_accuracy", "cnn.test_accuracy")
TRAINING = {
    "data": "fashion_mnist, train split test_size=0.2 random_state=42 (48,000 / 12,000), scaled /255",
    "optimizer": "adam",
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
    "batch_size": 32,
    "epochs": 20,
    "callbacks": ["ModelCheckpoint(save_best_only=True)",
                  "EarlyStopping(patience=2, restore_best_weights=True)"],
}


def build_cnn():
    from keras import Input, Sequential, layers

    return Sequential([
        Input((28, 28, 1)),
        layers.Conv2D(32, kernel_size=3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, kernel_size=3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(100, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ])


MODELS = {"cnn": build_cnn}


def fashion_split(run: RunOptions):
    """The seeds' data preparation: reshape to (N, 28, 28, 1), scale to 0..1, split 80 / 20."""
    from sklearn.model_selection import train_test_split

    from grader.data import load_fashion_mnist

    (train_input, train_target), (test_input, test_target) = load_fashion_mnist(run.data_dir)
    train_scaled = train_input.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    test_scaled = test_input.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    train_scaled, val_scaled, train_target, val_target = train_test_split(
        train_scaled, train_target, test_size=0.2, random_state=42
    )
    train_scaled, train_target = run.limit(train_scaled, train_target)
    if run.train_limit:
        val_scaled, val_target = val_scaled[: run.train_limit], val_target[: run.train_limit]
        test_scaled, test_target = test_scaled[: run.train_limit], test_target[: run.train_limit]
    return train_scaled, train_target, val_scaled, val_target, test_scaled, test_target


def train_with_early_stopping(model, key: str, run: RunOptions) -> dict[str, float]:
    """Compile and fit one Fashion-MNIST model the way seeds 000 and 001 do; return its metrics."""
    import keras

    train_x, train_y, val_x, val_y, test_x, test_y = fashion_split(run)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    checkpoint = run.workdir / f"best-{key}-model.keras"
    epochs = run.epochs(20)
    history = model.fit(
        train_x, train_y, epochs=epochs, validation_data=(val_x, val_y), verbose=0,
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(checkpoint), save_best_only=True),
            keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
            run.progress(key, epochs),
        ],
    )
    reloaded = keras.models.load_model(checkpoint)
    return {
        f"{key}.best_val_accuracy": float(max(history.history["val_accuracy"])),
        f"{key}.test_accuracy": accuracy(model, test_x, test_y),
        f"{key}.reloaded_test_accuracy": accuracy(reloaded, test_x, test_y),
        f"{key}.epochs_run": len(history.history["loss"]),
    }


def train(seed: int, run: RunOptions) -> dict[str, float]:
    import keras

    keras.utils.set_random_seed(seed)
    model = build_cnn()
    untrained_std = float(np.std(model.layers[0].kernel.numpy()))
    metrics = train_with_early_stopping(model, "cnn", run)
    metrics["cnn.first_kernel_std"] = float(np.std(model.layers[0].kernel.numpy()))
    metrics["untrained.first_kernel_std"] = untrained_std
    return metrics
