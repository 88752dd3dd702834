"""Average pooling with a 3x3 window (seed 001): 28x28 maps become 9x9, then 3x3, and the dense
layer shrinks from 313,700 to 28,900 parameters. Trained like the max-pooling CNN of
`fashion_cnn`, whose recorded accuracy is the comparison."""

from __future__ import annotations

from . import RunOptions
from .fashion_cnn import TRAINING as FASHION_TRAINING
from .fashion_cnn import build_cnn, train_with_early_stopping

DESCRIPTIONS = {
    "avg_pool": "Conv32 same, AvgPool3, Conv32 same, AvgPool3, Flatten, Dense100, Dropout .4, Dense10",
    "max_pool": "the fashion_cnn model (MaxPool2 twice), beside it for comparison",
}
GRADED_METRICS = ("avg_pool.best_val_accuracy", "avg_pool.test_accuracy")
TRAINING = {**FASHION_TRAINING, "trained": ["avg_pool"],
            "note": "max_pool is trained and recorded by the fashion_cnn exercise"}


def build_avg_pool():
    from keras import Input, Sequential, layers

    return Sequential([
        Input((28, 28, 1)),
        layers.Conv2D(32, kernel_size=3, activation="relu", padding="same"),
        layers.AveragePooling2D(3),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu", padding="same"),
        layers.AveragePooling2D(3),
        layers.Flatten(),
        layers.Dense(100, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ])


MODELS = {"avg_pool": build_avg_pool, "max_pool": build_cnn}


def train(seed: int, run: RunOptions) -> dict[str, float]:
    import keras

    keras.utils.set_random_seed(seed)
    return train_with_early_stopping(build_avg_pool(), "avg_pool", run)
