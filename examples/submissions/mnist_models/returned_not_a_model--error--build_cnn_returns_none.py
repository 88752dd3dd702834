"""The MNIST ladder, but build_cnn() builds the CNN and forgets to return it."""

from tensorflow.keras import layers, models


def compiled(model):
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def build_dense10():
    model = models.Sequential()
    model.add(layers.Input((28 * 28 * 1,)))
    model.add(layers.Dense(10, activation="softmax"))
    return compiled(model)


def build_mlp():
    model = models.Sequential()
    model.add(layers.Input((28 * 28 * 1,)))
    model.add(layers.Dense(100, activation="relu"))
    model.add(layers.Dense(100, activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(10, activation="softmax"))
    return compiled(model)


def build_cnn():
    model = models.Sequential()
    model.add(layers.Input((28, 28, 1)))
    model.add(layers.Conv2D(32, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(10, activation="softmax"))
    compiled(model)
