"""Write the starter notebooks: `exercises/<id>/starter.ipynb`, one per exercise.

    python exercises/make_starters.py           # write all five
    python exercises/make_starters.py --check   # exit 1 if a starter differs from what would be written

A starter is what a student receives: an introduction (what to build, what is graded and how to
self-check), the seed's data preparation written for Keras 3, and for each graded model a
description in words followed by a cell marked TODO that builds it into the variable the
exercise looks for. The checks and points in the introduction are read from the exercise's
toml, so they cannot drift from what the grader does.

Until a TODO is filled in, the cells that train or inspect that model print a reminder instead
(`has_layers`), so every starter runs from top to bottom as handed out.

Output is deterministic: nbformat v4, kernelspec python3, no outputs, cell ids `cell-<n>`.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

EXERCISES_DIR = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
CHECK_MEANINGS = {
    "execution": "every cell runs, top to bottom, in a fresh kernel, without an error",
    "architecture": "{model}, layer by layer",
    "pooling": "no model you build shrinks a feature map to nothing (0×0) with pooling or strides",
    "accuracy": "the test accuracy of {model}, measured by the grader on its own copy of the test "
                "images; not graded with `--quick`",
    "reload": "the file you load back, `{file}`, holds the trained weights of {model}",
    "training_setup": "the callbacks given to `fit` for {model}: {callbacks}",
    "feature_maps": "what a model from the input of {model} returns: {outputs}",
    "transfer": "a fine-class model on the reloaded, frozen extractor, and the same model trained from "
                "scratch with the same data, batches and epochs; the grader measures what the transfer "
                "gains; not graded with `--quick`",
    "comparison": "measured by the grader, the test accuracy rises: {order}; not graded with `--quick`",
}
ARCHITECTURE_NOTE = (
    "An architecture check compares your model with the expected one layer by layer: layer types "
    "and order, output shapes, parameter counts, and settings such as padding and activation. "
    "Each expected layer earns its share of the points (half of it when the layer's type is right "
    "but a shape or setting is not); each extra layer takes a share away. The grader finds your "
    "models by their variable names and by their layers, so a model you later overwrite still counts."
)


@dataclass(frozen=True)
class Cell:
    kind: str
    """"markdown" or "code"."""
    source: str


@dataclass(frozen=True)
class Starter:
    lead: str
    """First paragraph of the introduction: what the student will do."""
    cells: tuple[Cell, ...]
    """Everything after the introduction."""
    data_note: str = ""
    """Where the data comes from, when the student needs to know."""


def markdown(*parts: str) -> Cell:
    """Paragraphs (each dedented on its own, so prose and generated tables mix) as one cell."""
    return Cell("markdown", "\n\n".join(textwrap.dedent(part).strip("\n") for part in parts))


def code(text: str, **fields: str) -> Cell:
    """Dedented source; each `@name@` is then replaced by `fields[name]`, already indented."""
    source = textwrap.dedent(text).strip("\n")
    for name, value in fields.items():
        source = source.replace(f"@{name}@", value)
    return Cell("code", source)


def layer_table(rows: list[tuple[str, str, str, str]], total: str) -> str:
    """A model summary in words: (layer, what it does, output shape, parameters) per row."""
    lines = ["| # | Layer | What it does | Output shape | Parameters |", "|---|---|---|---|---|"]
    lines += [f"| {number} | {layer} | {what} | `{shape}` | {params} |"
              for number, (layer, what, shape, params) in enumerate(rows, start=1)]
    return "\n".join(lines) + f"\n\nTotal: {total} parameters."


# Shared by every starter: the guard that lets a starter run before its TODOs are filled in.
HAS_LAYERS = '''
def has_layers(model):
    """True once `model` has layers besides its input; otherwise a reminder, and False.

    The cells that train or inspect a model ask this first, so the notebook runs from top to
    bottom before you have built anything.
    """
    if any(not isinstance(layer, keras.layers.InputLayer) for layer in model.layers):
        return True
    print("The model this cell uses has no layers yet: fill in its TODO cell above, then run this cell again.")
    return False
'''

FASHION_DATA = [
    markdown("""
        ## The data

        Fashion-MNIST: 28×28 grey images of clothes in 10 classes. A convolution reads images in
        their 2-D layout, so they are reshaped to 28×28×1 (one channel) rather than flattened,
        scaled from 0–255 to 0–1, and 20% of the training images are held out for validation.
    """),
    code("""
        import keras
        import matplotlib.pyplot as plt
        import numpy as np
        from sklearn.model_selection import train_test_split

        (train_input, train_target), (test_input, test_target) = \\
            keras.datasets.fashion_mnist.load_data()
        train_scaled = train_input.reshape(-1, 28, 28, 1) / 255.0
        train_scaled, val_scaled, train_target, val_target = train_test_split(
            train_scaled, train_target, test_size=0.2, random_state=42)
        print(train_input.shape, train_scaled.shape, val_scaled.shape)
    """),
]

MAX_POOL_CNN_TABLE = layer_table([
    ("Conv2D", "32 filters, 3×3 kernel, ReLU, `'same'` padding (the map keeps its size)",
     "(None, 28, 28, 32)", "320"),
    ("MaxPooling2D", "2×2 window: halves height and width", "(None, 14, 14, 32)", "0"),
    ("Conv2D", "64 filters, 3×3 kernel, ReLU, `'same'` padding", "(None, 14, 14, 64)", "18,496"),
    ("MaxPooling2D", "2×2 window", "(None, 7, 7, 64)", "0"),
    ("Flatten", "the 7×7×64 maps as one vector", "(None, 3136)", "0"),
    ("Dense", "100 units, ReLU", "(None, 100)", "313,700"),
    ("Dropout", "drops 40% of the units while training", "(None, 100)", "0"),
    ("Dense", "10 units, softmax: one probability per class", "(None, 10)", "1,010"),
], "333,526")


def fashion_training(history: str, checkpoint: str, epochs: int) -> Cell:
    return code(f"""
        if has_layers(model):
            model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
                          metrics=['accuracy'])
            checkpoint_cb = keras.callbacks.ModelCheckpoint('{checkpoint}',
                                                            save_best_only=True)
            early_stopping_cb = keras.callbacks.EarlyStopping(patience=2,
                                                              restore_best_weights=True)
            {history} = model.fit(
                train_scaled, train_target, epochs={epochs},
                validation_data=(val_scaled, val_target),
                callbacks=[checkpoint_cb, early_stopping_cb])
            print(model.evaluate(val_scaled, val_target))
    """)


FASHION_TRAINING_TEXT = """
    ## Compile and train

    Adam, sparse categorical cross-entropy (the labels are class numbers 0–9) and accuracy.
    `ModelCheckpoint` keeps the model with the lowest validation loss in `{checkpoint}`;
    `EarlyStopping` stops when the validation loss has not improved for 2 epochs and restores
    the best weights. At most {epochs} epochs; on a CPU, count on a minute or so per epoch.
"""


SAVE_GRADED_TEXT = """
    ## Save the graded models

    The grader measures the accuracy of
    {what} itself. Without `--quick` it runs this notebook as written; with `--artifacts` it
    runs it capped and grades the model files you hand in beside the notebook, in one folder:
    the ones this cell saves, under these names.
"""

SAVE_GRADED_MODELS = code("""
    for key, graded_model in graded_models.items():
        graded_model.save(f'{key}.keras')
        print(f'saved {key}.keras')
""")

FASHION_CNN = Starter(
    lead="Build the convolutional network of the textbook chapter for Fashion-MNIST, train it with "
         "a checkpoint and early stopping, reload the best model, and look at what it learned: the "
         "kernels of its first convolution and the feature maps of both convolutions.",
    cells=(
        *FASHION_DATA,
        code("# Helpers for this notebook.\n" + HAS_LAYERS + '''

def show_grid(images, rows, cols, **imshow_options):
    """The 2-D arrays along the last axis of `images` (up to rows × cols of them) in one figure."""
    fig, axs = plt.subplots(rows, cols, figsize=(15, 15 * rows / cols))
    for index, ax in enumerate(axs.flat):
        if index < images.shape[-1]:
            ax.imshow(images[..., index], **imshow_options)
        ax.axis('off')
    plt.show()
'''),
        markdown("""
            ## Build the CNN

            Two convolution-and-pooling stages find features in the image; a dense layer with
            dropout then turns them into the probabilities of the 10 classes. The input is a
            28×28 image with one channel (already in the cell below). Then, in this order:

        """, MAX_POOL_CNN_TABLE,
                 "Check your model against this table with `model.summary()`."),
        code("""
            model = keras.Sequential([
                keras.Input(shape=(28, 28, 1)),
                # TODO: add the eight layers described above, in order
            ])
            model.summary()
        """),
        markdown(FASHION_TRAINING_TEXT.format(checkpoint="best-cnn-model.keras", epochs=20)),
        fashion_training("history", "best-cnn-model.keras", 20),
        markdown("""
            ## Validation and prediction

            The loss curves: at which epoch does the validation loss stop falling?
        """),
        code("""
            if has_layers(model):
                fig, ax = plt.subplots()
                ax.plot(history.history['loss'])
                ax.plot(history.history['val_loss'])
                ax.set_xlabel('epoch')
                ax.set_ylabel('loss')
                ax.legend(['train', 'val'])
                plt.show()
        """),
        markdown("""
            The prediction for the first validation image. `predict` expects a batch, so slice
            the image (`val_scaled[0:1]` keeps the batch dimension) rather than index it.
        """),
        code("""
            classes = ['t-shirt', 'pants', 'sweater', 'dress', 'coat', 'sandal',
                       'shirt', 'sneakers', 'bag', 'boots']
            fig, ax = plt.subplots()
            ax.imshow(val_scaled[0].reshape(28, 28), cmap='gray_r')
            plt.show()

            if has_layers(model):
                preds = model.predict(val_scaled[0:1])
                print(preds)
                fig, ax = plt.subplots()
                ax.bar(range(1, 11), preds[0])
                ax.set_xlabel('class')
                ax.set_ylabel('prob.')
                plt.show()
                print(classes[np.argmax(preds)])
        """),
        markdown("## Test"),
        code("""
            test_scaled = test_input.reshape(-1, 28, 28, 1) / 255.0
            if has_layers(model):
                print(model.evaluate(test_scaled, test_target))
        """),
        markdown("""
            ## Visualise the CNN: weights

            Reload the best model the checkpoint saved, and look at the kernels of its first
            convolution: their shape, their spread, and the 32 kernels as images.
        """),
        code("""
            if has_layers(model):
                model = keras.models.load_model('best-cnn-model.keras')
                conv = model.layers[0]
                print(conv.weights[0].shape, conv.weights[1].shape)
                conv_weights = conv.weights[0].numpy()
                print(conv_weights.mean(), conv_weights.std())

                fig, ax = plt.subplots()
                ax.hist(conv_weights.reshape(-1, 1))
                ax.set_xlabel('weight')
                ax.set_ylabel('count')
                plt.show()
                show_grid(conv_weights[:, :, 0, :], 2, 16, vmin=-0.5, vmax=0.5)
        """),
        markdown("""
            Compare with an untrained network: `keras.models.clone_model` builds the same
            architecture with fresh random weights. How do the spread and the pictures differ?
        """),
        code("""
            if has_layers(model):
                no_training_model = keras.models.clone_model(model)
                no_training_conv = no_training_model.layers[0]
                print(no_training_conv.weights[0].shape)
                no_training_weights = no_training_conv.weights[0].numpy()
                print(no_training_weights.mean(), no_training_weights.std())

                fig, ax = plt.subplots()
                ax.hist(no_training_weights.reshape(-1, 1))
                ax.set_xlabel('weight')
                ax.set_ylabel('count')
                plt.show()
                show_grid(no_training_weights[:, :, 0, :], 2, 16, vmin=-0.5, vmax=0.5)
        """),
        markdown("""
            ## Visualise the CNN: feature maps

            A functional model from the CNN's input (in Keras 3, `model.inputs`) to a
            convolution's output shows what each filter responds to in one image.
        """),
        code("""
            plt.imshow(train_input[0], cmap='gray_r')
            plt.show()

            if has_layers(model):
                convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
                inputs = train_input[0:1].reshape(-1, 28, 28, 1) / 255.0
                conv_acti = keras.Model(model.inputs, convolutions[0].output)
                feature_maps = conv_acti.predict(inputs)
                print(feature_maps.shape)
                show_grid(feature_maps[0], 4, 8)
        """),
        code("""
            if has_layers(model):
                conv2_acti = keras.Model(model.inputs, convolutions[1].output)
                feature_maps = conv2_acti.predict(inputs)
                print(feature_maps.shape)
                show_grid(feature_maps[0], 8, 8)
        """),
        markdown("""
            ## The graded model file

            The grader measures the accuracy of the CNN itself. Without `--quick` it runs this
            notebook as written; with `--artifacts` it runs it capped and grades the model file
            you hand in beside the notebook, in one folder: `best-cnn-model.keras`, the best model
            the checkpoint saved while training. Hand in the file this notebook writes, unchanged.
        """),
    ),
)

FASHION_POOLING = Starter(
    lead="Replace the textbook CNN's 2×2 max pooling with 3×3 average pooling (and 32 filters in "
         "the second convolution), see how much smaller the feature maps and the dense layer "
         "become, then build the max-pooling model beside it and compare the two.",
    cells=(
        *FASHION_DATA,
        code("# Helper for this notebook.\n" + HAS_LAYERS),
        markdown("""
            ## The average-pooling CNN

            The textbook CNN with two changes: each pooling layer takes the average of a 3×3
            window (so it divides height and width by 3, rounding down), and the second
            convolution has 32 filters. The input is a 28×28 image with one channel (already in
            the cell below). Then, in this order:

        """, layer_table([
            ("Conv2D", "32 filters, 3×3 kernel, ReLU, `'same'` padding (the map keeps its size)",
             "(None, 28, 28, 32)", "320"),
            ("AveragePooling2D", "3×3 window: a third of the height and width",
             "(None, 9, 9, 32)", "0"),
            ("Conv2D", "32 filters, 3×3 kernel, ReLU, `'same'` padding", "(None, 9, 9, 32)", "9,248"),
            ("AveragePooling2D", "3×3 window", "(None, 3, 3, 32)", "0"),
            ("Flatten", "the 3×3×32 maps as one vector", "(None, 288)", "0"),
            ("Dense", "100 units, ReLU", "(None, 100)", "28,900"),
            ("Dropout", "drops 40% of the units while training", "(None, 100)", "0"),
            ("Dense", "10 units, softmax: one probability per class", "(None, 10)", "1,010"),
        ], "39,478")),
        code("""
            model = keras.Sequential([
                keras.Input(shape=(28, 28, 1)),
                # TODO: add the eight layers described above, in order
            ])
            model.summary()
        """),
        markdown(FASHION_TRAINING_TEXT.format(checkpoint="best-avg-model.keras", epochs=10)),
        code("avg_model = model  # keep it: the max-pooling model below reuses the name `model`"),
        fashion_training("avg_history", "best-avg-model.keras", 10),
        markdown("""
            ## The max-pooling CNN

            The textbook CNN, for comparison: 2×2 max pooling and 64 filters in the second
            convolution. The input is again a 28×28 image with one channel. Then, in this order:

        """, MAX_POOL_CNN_TABLE),
        code("""
            model = keras.Sequential([
                keras.Input(shape=(28, 28, 1)),
                # TODO: add the eight layers described above, in order
            ])
            model.summary()
        """),
        markdown("Train it the same way; its best model goes to `best-cnn-model.keras`."),
        fashion_training("max_history", "best-cnn-model.keras", 10),
        markdown("""
            ## Compare

            Why does the first Dense layer of the average-pooling model have 28,900 parameters
            and not 313,700? Which model fits better, and which trains faster?
        """),
        code("""
            if has_layers(avg_model) and has_layers(model):
                print(f"average pooling 3x3: {avg_model.count_params():,} parameters, "
                      f"best validation accuracy {max(avg_history.history['val_accuracy']):.4f}")
                print(f"max pooling 2x2: {model.count_params():,} parameters, "
                      f"best validation accuracy {max(max_history.history['val_accuracy']):.4f}")
                plt.plot(avg_history.history['val_loss'])
                plt.plot(max_history.history['val_loss'])
                plt.xlabel('epoch')
                plt.ylabel('validation loss')
                plt.legend(['average pooling 3x3', 'max pooling 2x2'])
                plt.show()
        """),
        markdown(SAVE_GRADED_TEXT.format(what="the average-pooling CNN")),
        code("""
            if has_layers(avg_model):
                avg_model.save('avg_pool.keras')
                print('saved avg_pool.keras')
        """),
    ),
)

def conv_intro_training(key: str, summary: str = "") -> Cell:
    return code("""
        if has_layers(model):
            model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
            @summary@model.fit(training_images, training_labels, epochs=5)
            test_loss, test_acc = model.evaluate(test_images, test_labels)
            print(test_acc)
            test_accuracy['@key@'] = test_acc
            graded_models['@key@'] = model
    """, summary=summary, key=key)


FASHION_CONV_INTRO = Starter(
    lead="Train a dense network on Fashion-MNIST as a baseline, then put two convolution-and-"
         "pooling stages in front of it and see what convolutions do to the accuracy. Last, look "
         "inside the CNN with a model that returns every layer's output.",
    cells=(
        markdown("""
            ## The data

            All 60,000 training images and the 10,000 test images of Fashion-MNIST, scaled from
            0–255 to 0–1.
        """),
        code("""
            import keras
            import matplotlib.pyplot as plt

            mnist = keras.datasets.fashion_mnist
            (training_images, training_labels), (test_images, test_labels) = mnist.load_data()
            training_images = training_images / 255.0
            test_images = test_images / 255.0
            print(training_images.shape, test_images.shape)
        """),
        code("# Helper for this notebook, the test accuracies to compare at the end, and the trained\n"
             "# models graded by accuracy, saved at the end.\n" + HAS_LAYERS
             + "\n\ntest_accuracy = {}\ngraded_models = {}"),
        markdown("""
            ## The dense baseline

            The input is a 28×28 image (no channel axis here; already in the cell below). Then:

        """, layer_table([
            ("Flatten", "the 28×28 pixels as one vector", "(None, 784)", "0"),
            ("Dense", "128 units, ReLU", "(None, 128)", "100,480"),
            ("Dense", "10 units, softmax: one probability per class", "(None, 10)", "1,290"),
        ], "101,770")),
        code("""
            model = keras.Sequential([
                keras.Input(shape=(28, 28)),
                # TODO: add the three layers described above, in order
            ])
            model.summary()
        """),
        markdown("""
            Train it with Adam, sparse categorical cross-entropy (the labels are class numbers
            0–9) and accuracy, for 5 epochs, then evaluate it on the test images. Note the test
            accuracy.
        """),
        conv_intro_training("dense"),
        markdown("""
            ## Add convolutions

            A convolution expects one 4-D array (images, height, width, channels), so the images
            get a channel axis: 28×28 becomes 28×28×1.
        """),
        code("""
            training_images = training_images.reshape(-1, 28, 28, 1)
            test_images = test_images.reshape(-1, 28, 28, 1)
            print(training_images.shape, test_images.shape)
        """),
        markdown("""
            ## The CNN

            Two convolution-and-pooling stages in front of the same dense layers. The
            convolutions use no padding (`'valid'`), so each one loses a pixel on every side.
            The input is a 28×28 image with one channel (already in the cell below). Then, in
            this order:

        """, layer_table([
            ("Conv2D", "64 filters, 3×3 kernel, ReLU, no padding: 28 − 2 = 26",
             "(None, 26, 26, 64)", "640"),
            ("MaxPooling2D", "2×2 window: halves height and width", "(None, 13, 13, 64)", "0"),
            ("Conv2D", "64 filters, 3×3 kernel, ReLU, no padding", "(None, 11, 11, 64)", "36,928"),
            ("MaxPooling2D", "2×2 window (rounding down)", "(None, 5, 5, 64)", "0"),
            ("Flatten", "the 5×5×64 maps as one vector", "(None, 1600)", "0"),
            ("Dense", "128 units, ReLU", "(None, 128)", "204,928"),
            ("Dense", "10 units, softmax", "(None, 10)", "1,290"),
        ], "243,786")),
        code("""
            model = keras.Sequential([
                keras.Input(shape=(28, 28, 1)),
                # TODO: add the seven layers described above, in order
            ])
        """),
        markdown("Compile, train and evaluate it exactly like the baseline. It takes longer: "
                 "what does it do to the accuracy?"),
        conv_intro_training("cnn", summary="model.summary()\n    "),
        code("""
            for name, accuracy in test_accuracy.items():
                print(f'{name}: test accuracy {accuracy:.4f}')
        """),
        markdown("""
            ## Visualising the convolutions and pooling

            The first 100 test labels: the images at index 0, 23 and 28 are all 9 (ankle boots).
            An *activation model* takes the CNN's input (in Keras 3, `model.inputs`) and returns
            the output of every layer. Below, rows are three test images and columns the first
            four layers (convolution, pooling, convolution, pooling) for one filter,
            `CONVOLUTION_NUMBER`. Try other images and other filters: which features do the
            shoes share?
        """),
        code("print(test_labels[:100])"),
        code("""
            FIRST_IMAGE = 0
            SECOND_IMAGE = 7
            THIRD_IMAGE = 26
            CONVOLUTION_NUMBER = 1

            if has_layers(model):
                layer_outputs = [layer.output for layer in model.layers]
                activation_model = keras.Model(inputs=model.inputs, outputs=layer_outputs)
                activations = activation_model.predict(test_images[[FIRST_IMAGE, SECOND_IMAGE, THIRD_IMAGE]])
                f, axarr = plt.subplots(3, 4)
                for row in range(3):
                    for x in range(4):
                        axarr[row, x].imshow(activations[x][row, :, :, CONVOLUTION_NUMBER], cmap='inferno')
                        axarr[row, x].grid(False)
                plt.show()
        """),
        markdown(SAVE_GRADED_TEXT.format(what="the dense baseline and of the CNN")),
        SAVE_GRADED_MODELS,
    ),
)


def mnist_data(shape: str) -> Cell:
    # The seed reloads the data before each model; that keeps every section re-runnable.
    return code(f"""
        (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
        train_images = train_images.reshape({shape}).astype('float32') / 255   # scaling
        test_images = test_images.reshape({shape}).astype('float32') / 255

        train_labels = to_categorical(train_labels, 10)   # one-hot encoding
        test_labels = to_categorical(test_labels, 10)
        print(train_images.shape, train_labels.shape)
    """)


def mnist_training(key: str, model_key: str, batch_size: int, first_lines: str = "") -> Cell:
    return code("""
        if has_layers(model):
            @first_lines@model.compile(optimizer='rmsprop',
                          loss='categorical_crossentropy',
                          metrics=['accuracy'])
            history = model.fit(train_images, train_labels, epochs=30, batch_size=@batch_size@, verbose=2)
            test_loss, test_acc = model.evaluate(test_images, test_labels)
            print('test_acc =', test_acc)
            test_accuracy['@key@'] = test_acc
            graded_models['@model_key@'] = model
    """, first_lines=first_lines, batch_size=str(batch_size), key=key, model_key=model_key)


def mnist_model_cell(input_shape: str, what: str) -> Cell:
    return code(f"""
        model = models.Sequential([
            keras.Input(shape={input_shape}),
            # TODO: add {what}
        ])
        model.summary()
    """)


MNIST_MODELS = Starter(
    lead="Three models on the MNIST digits, each better than the one before: a single dense layer "
         "on the 784 pixels, an MLP with two hidden layers, and a small CNN.",
    data_note="`mnist.load_data()` downloads the digits the first time you run it. The grader "
              "serves them itself, offline, possibly as a subset of 8,000 training and 2,000 test "
              "images: so the code never assumes 60,000 images.",
    cells=(
        code("""
            import numpy as np
            import keras
            import matplotlib.pyplot as plt
            from keras import layers, models
            from keras.datasets import mnist
            from keras.utils import to_categorical
        """),
        code("# Helper for this notebook, the test accuracies to compare at the end, and the trained\n"
             "# models graded by accuracy, saved at the end.\n" + HAS_LAYERS
             + "\n\ntest_accuracy = {}\ngraded_models = {}"),
        markdown("""
            ## The data

            28×28 grey images of handwritten digits, 0 to 9, stored as integers from 0 to 255.
        """),
        code("""
            (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
            print(train_images.shape, test_images.shape)
            print(train_labels.shape, test_labels.shape)
            print(train_images.dtype, train_labels[:10])

            plt.subplot(1, 2, 1)
            plt.imshow(train_images[0], cmap=plt.cm.binary)
            plt.subplot(1, 2, 2)
            plt.imshow(train_images[0] / 255, cmap=plt.cm.binary)
            plt.show()
        """),
        markdown("""
            ## A single dense layer

            Each image becomes one vector of 28·28 = 784 values scaled to 0–1, and each label a
            one-hot vector of 10.
        """),
        mnist_data("(-1, 28 * 28 * 1)"),
        markdown("""
            The model is a single layer: every one of the 784 inputs connected to each of the 10
            outputs. The input (784 values) is already in the cell below.

        """, layer_table([
            ("Dense", "10 units, softmax: one probability per digit", "(None, 10)", "7,850"),
        ], "7,850")),
        mnist_model_cell("(28 * 28 * 1,)", "the layer described above"),
        markdown("""
            Train it with RMSprop, categorical cross-entropy (the labels are one-hot) and
            accuracy: 30 epochs in batches of 128, then the test set.
        """),
        mnist_training("single dense layer", "dense10", 128),
        markdown("""
            ## An MLP with hidden layers

            The same 784 inputs (already in the cell below), then:

        """, layer_table([
            ("Dense", "100 units, ReLU", "(None, 100)", "78,500"),
            ("Dense", "100 units, ReLU", "(None, 100)", "10,100"),
            ("Flatten", "changes nothing here (the data are already flat), as in the seed",
             "(None, 100)", "0"),
            ("Dense", "10 units, softmax", "(None, 10)", "1,010"),
        ], "89,610")),
        mnist_model_cell("(28 * 28 * 1,)", "the four layers described above, in order"),
        markdown("""
            Its input and output tensors (in Keras 3, `model.inputs` and `model.outputs`), then
            the same training, in batches of 200.
        """),
        mnist_training("MLP", "mlp", 200, first_lines="print(model.inputs, model.outputs)\n"
                                         "    print(model.input_shape, model.output_shape)\n    "),
        markdown("""
            ## A CNN

            Now the images keep their 2-D layout, 28×28×1 (one channel).
        """),
        mnist_data("(-1, 28, 28, 1)"),
        markdown("""
            Three 3×3 convolutions without padding (`'valid'`: each loses a pixel on every side),
            the first two followed by 2×2 max pooling, then one softmax layer. The input
            (28×28×1) is already in the cell below. Then, in this order:

        """, layer_table([
            ("Conv2D", "32 filters, 3×3 kernel, ReLU, no padding", "(None, 26, 26, 32)", "320"),
            ("MaxPooling2D", "2×2 window: halves height and width", "(None, 13, 13, 32)", "0"),
            ("Conv2D", "64 filters, 3×3 kernel, ReLU, no padding", "(None, 11, 11, 64)", "18,496"),
            ("MaxPooling2D", "2×2 window (rounding down)", "(None, 5, 5, 64)", "0"),
            ("Conv2D", "64 filters, 3×3 kernel, ReLU, no padding", "(None, 3, 3, 64)", "36,928"),
            ("Flatten", "the 3×3×64 maps as one vector", "(None, 576)", "0"),
            ("Dense", "10 units, softmax", "(None, 10)", "5,770"),
        ], "61,514"), "Each convolution has (3·3·input channels + 1) · filters parameters: "
                       "3·3·1·32 + 32 = 320 for the first."),
        mnist_model_cell("(28, 28, 1)", "the seven layers described above, in order"),
        markdown("Train it like the MLP: RMSprop, 30 epochs in batches of 200."),
        mnist_training("CNN", "cnn", 200),
        markdown("## Compare\n\nThe test accuracy should rise from model to model."),
        code("""
            for name, accuracy in test_accuracy.items():
                print(f'{name}: test accuracy {accuracy:.4f}')
        """),
        markdown(SAVE_GRADED_TEXT.format(what="each of the three models")),
        SAVE_GRADED_MODELS,
    ),
)

STRIDED_PARAMETERS = "257 · n_super"


def strided_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for size, conv_params in ((16, "1,792"), (8, "36,928"), (4, "36,928"), (2, "36,928")):
        shape = f"(None, {size}, {size}, 64)"
        rows += [("Conv2D", "64 filters, 3×3 kernel, stride 2, `'same'` padding, no activation", shape, conv_params),
                 ("BatchNormalization", "normalises each of the 64 channels", shape, "256"),
                 ("Activation", "ReLU", shape, "0")]
    return rows + [("Flatten", "the 2×2×64 maps as one vector", "(None, 256)", "0"),
                   ("Dense", "`n_super` units, softmax", "(None, n_super)", STRIDED_PARAMETERS)]


def extractor_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for size, conv_params in ((32, "3,584"), (16, "147,584"), (8, "147,584"), (4, "147,584")):
        shape = f"(None, {size}, {size}, 128)"
        rows += [("Conv2D", "128 filters, 3×3 kernel, stride 1, `'same'` padding, no activation", shape, conv_params),
                 ("BatchNormalization", "normalises each of the 128 channels", shape, "512"),
                 ("Activation", "ReLU", shape, "0"),
                 ("MaxPool2D", "2×2 window: halves height and width",
                  f"(None, {size // 2}, {size // 2}, 128)", "0")]
    return rows


CNN_TRANSFER = Starter(
    lead="Convolutions on 32×32 colour images: a first Conv2D layer; a CNN that shrinks its maps "
         "with strided convolutions; why you cannot also add max pooling to each of its blocks; "
         "and transfer learning: a feature extractor trained on coarse classes, saved, reloaded "
         "and reused for fine classes.",
    data_note="The grader puts `cnn_transfer_data.npz` next to your notebook: 7,500 training and "
              "1,500 test images, 32×32×3, each with a coarse and a fine label (CIFAR-100's three "
              "mammal superclasses and their 15 classes; offline a Fashion-MNIST stand-in with 4 "
              "coarse and 10 fine classes). To make the file yourself where cnngrader is installed:\n\n"
              "    python -c \"from grader.data import load_transfer_data; import numpy as np; "
              "d = load_transfer_data(); np.savez('cnn_transfer_data.npz', "
              "**{k: v for k, v in d.items() if hasattr(v, 'shape')})\"",
    cells=(
        markdown("""
            ## 0. Load the data

            The labels are already class numbers, and the number of classes is read from the
            data (`n_super` coarse, `n_sub` fine) rather than written into the code. The images
            are scaled from 0–255 to 0–1.
        """),
        code("""
            import numpy as np
            import keras
            import matplotlib.pyplot as plt

            data = np.load('cnn_transfer_data.npz')
            train = data['x_train'].astype('float32') / 255.0
            test = data['x_test'].astype('float32') / 255.0
            tr_super_y, tr_sub_y = data['y_train_coarse'], data['y_train_fine']
            ts_super_y, ts_sub_y = data['y_test_coarse'], data['y_test_fine']
            n_super = int(data['y_train_coarse'].max()) + 1
            n_sub = int(data['y_train_fine'].max()) + 1
            print(train.shape, test.shape)
            print(f'{n_super} super (coarse) classes, {n_sub} sub (fine) classes')
        """),
        code("""
            n = 6
            plt.imshow(data['x_train'][n])
            plt.show()
            print(f'Super class \\t: {tr_super_y[n]}')
            print(f'Sub class \\t: {tr_sub_y[n]}')
        """),
        code("# Helper for this notebook.\n" + HAS_LAYERS),
        markdown("""
            ## 1. A convolution layer

            A dense layer connects every input to every unit; a convolution connects each output
            only to a small neighbourhood of the input. On the 32×32×3 input (already in the cell
            below), one layer:

        """, layer_table([
            ("Conv2D", "2 filters, 3×3 kernel, stride 1, `'same'` padding, no activation",
             "(None, 32, 32, 2)", "56"),
        ], "56"), "Each filter has 3·3·3 weights and a bias: (27 + 1) · 2 = 56. With "
                   "`'valid'` padding the output would be 30×30×2; try it, then put `'same'` back."),
        code("""
            model = keras.Sequential([
                keras.Input(shape=(32, 32, 3)),
                # TODO: add the convolution layer described above
            ])
            model.summary()
        """),
        markdown("""
            ## 2. Strided convolutions

            To shrink the maps cheaply, each convolution uses stride 2, followed by batch
            normalisation and a ReLU activation. On the 32×32×3 input (already in the cell below),
            four such blocks, then a softmax over the coarse classes:

        """, layer_table(strided_rows(), f"113,600 + {STRIDED_PARAMETERS}")),
        code("""
            model = keras.Sequential()
            model.add(keras.Input(shape=(32, 32, 3)))
            # TODO: add the four [Conv2D, BatchNormalization, Activation] blocks described above
            #       (a for loop keeps it short), then Flatten and a softmax Dense layer with n_super units
            model.summary()
        """),
        markdown("""
            Train it on the coarse labels, one-hot encoded: Adam, categorical cross-entropy and
            accuracy, batches of 200, 20 epochs; then the test accuracy.
        """),
        code("""
            if has_layers(model):
                model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
                history = model.fit(train, keras.utils.to_categorical(tr_super_y, n_super),
                                    batch_size=200, epochs=20)
                test_loss, test_acc = model.evaluate(test, keras.utils.to_categorical(ts_super_y, n_super))
                print(f'Strided CNN (no pooling), test accuracy: {test_acc:.2%}')
        """),
        markdown("""
            ### Why not also pool in every block?

            The seed then added `MaxPool2D()` (a 2×2 window) after each block's activation, and
            Keras refused to build the model. The cell below works the sizes out with plain
            integers: a stride-2 `'same'` convolution halves a size, rounding up; a 2×2 pooling
            halves it, rounding down. Where does the map run out?

            **Do not build that model in this notebook**: its error would stop the notebook, and
            a model whose feature map shrinks to nothing costs the *Feature maps keep a size*
            points. Which would you remove to use pooling here, and what would the last map be?
        """),
        code("""
            size = 32
            for block in range(1, 5):
                size = -(-size // 2)  # Conv2D, stride 2, 'same'
                print(f'block {block}: {size}x{size} after the convolution', end='')
                size = size // 2  # MaxPool2D(2)
                print(f', {size}x{size} after the pooling')
                if size == 0:
                    print('nothing is left for the next layer')
                    break
        """),
        markdown("""
            ## 3. Transfer learning

            A trained network's weights can be reused: a *feature extractor* trained on one
            problem (the coarse classes) gives a head start on a related one (the fine classes).

            ### The shared feature extractor

            A functional model (`keras.Model(inputs, outputs)`) returned by the function
            `shared_function()`. From the 32×32×3 input, four blocks, each taking the previous
            block's output; no Flatten and no Dense: its output is the last block's feature map.

        """, layer_table(extractor_rows(), "448,384"),
            "In the summary of a functional model Keras lists an InputLayer first."),
        code("""
            def shared_function():
                input_layer = keras.Input(shape=(32, 32, 3))
                pool = input_layer
                # TODO: the four blocks described above; each takes the previous block's output
                #       (`pool`) and leaves its MaxPool2D output in `pool`
                return keras.Model(input_layer, pool)


            shared_model = shared_function()
            shared_model.summary()
        """),
        markdown("""
            ### The classifier: the extractor with a head

            A second functional model: from a 32×32×3 input, the extractor called like a layer
            (it shows as one `Functional` row in the summary), then a head that flattens its
            maps and classifies them. Write the head once, as `add_head(extractor, classes)`:
            the same head goes on the reloaded extractor below.

        """, layer_table([
            ("Functional", "the shared extractor", "(None, 2, 2, 128)", "448,384"),
            ("Flatten", "the 2×2×128 maps as one vector", "(None, 512)", "0"),
            ("Dense", "`classes` units (here `n_super`), softmax", "(None, n_super)",
             "513 · n_super"),
        ], "448,384 + 513 · n_super")),
        code("""
            def add_head(extractor, classes):
                inputs = keras.Input(shape=(32, 32, 3))
                # TODO: replace the next line: call `extractor` on `inputs`, flatten the result and
                #       add a softmax Dense layer with `classes` units
                outputs = inputs
                return keras.Model(inputs, outputs)


            super_model = add_head(shared_model, n_super)
            super_model.summary()
        """),
        markdown("""
            Train the classifier on the coarse labels: Adam, categorical cross-entropy, batches
            of 200, 3 epochs (the seed asked for 20 and stopped it early; 3 keep this cell to a
            few minutes on a CPU).
        """),
        code("""
            if has_layers(super_model):
                super_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
                history_super = super_model.fit(train, keras.utils.to_categorical(tr_super_y, n_super),
                                                batch_size=200, epochs=3)
                test_loss, test_acc = super_model.evaluate(test, keras.utils.to_categorical(ts_super_y, n_super))
                print(f'Classifier on the coarse classes, test accuracy: {test_acc:.2%}')
        """),
        markdown("""
            ### Save and reload the extractor

            Save the extractor alone, without its head, in the Keras 3 format (`.keras`), and
            load it back.
        """),
        code("""
            shared_model.save('shared_model.keras')
            load_shared_model = keras.models.load_model('shared_model.keras')
            load_shared_model.summary()
        """),
        markdown("""
            ### Transfer to the fine classes

            Freeze the reloaded extractor (`trainable = False`) so that only a new head, with
            `n_sub` classes, learns; train it on 2,000 fine-labelled images for 5 epochs. Then the
            same architecture from scratch, with the same budget: how much did the coarse
            training help?
        """),
        code("""
            fine_rows = np.random.default_rng(42).permutation(len(train))[:2000]
            fine_x = train[fine_rows]
            fine_y = keras.utils.to_categorical(tr_sub_y[fine_rows], n_sub)

            load_shared_model.trainable = False
            load_sub_model = add_head(load_shared_model, n_sub)
            scratch_sub_model = add_head(shared_function(), n_sub)
            for name, sub_model in (('transfer', load_sub_model), ('from scratch', scratch_sub_model)):
                if has_layers(sub_model):
                    sub_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
                    sub_model.fit(fine_x, fine_y, batch_size=200, epochs=5)
                    test_loss, test_acc = sub_model.evaluate(test, keras.utils.to_categorical(ts_sub_y, n_sub))
                    print(f'{name}: fine-class test accuracy {test_acc:.2%}')
        """),
        markdown(SAVE_GRADED_TEXT.format(what="the classifier on the coarse classes")),
        code("""
            if has_layers(super_model):
                super_model.save('classifier.keras')
                print('saved classifier.keras')
        """),
    ),
)

STARTERS = {
    "fashion_cnn": FASHION_CNN,
    "fashion_pooling": FASHION_POOLING,
    "fashion_conv_intro": FASHION_CONV_INTRO,
    "mnist_models": MNIST_MODELS,
    "cnn_transfer": CNN_TRANSFER,
}


def read_spec(exercise_id: str) -> dict:
    with open(EXERCISES_DIR / exercise_id / "exercise.toml", "rb") as handle:
        return tomllib.load(handle)


def check_meaning(check: dict, models: dict) -> str:
    """What a check looks at, in words, with the settings the exercise's toml gives it."""
    def described(key: str) -> str:
        return f"`{models[key]['names'][0]}`, {models[key]['title']}"

    fields = {"model": described(check["model"]) if "model" in check else ""}
    if check["id"] == "training_setup":
        fields["callbacks"] = " and ".join(
            f"`{callback['class']}(" + ", ".join(f"{key}={value!r}" for key, value in callback.items()
                                                 if key != "class") + ")`"
            for callback in check.get("callbacks", []))
    if check["id"] == "reload":
        fields["file"] = check.get("file", "the file you saved")
    if check["id"] == "feature_maps":
        outputs = check.get("outputs", "every_layer")
        fields["outputs"] = ("the output of every one of its layers" if outputs == "every_layer" else
                             "its feature maps of shape " + " and ".join("×".join(map(str, shape)) for shape in outputs))
    if check["id"] == "comparison":
        fields["order"] = " < ".join(f"`{models[key]['names'][0]}`, {models[key]['title']}" for key in check["order"])
    return CHECK_MEANINGS[check["id"]].format(**fields)


def saved_models_note(spec: dict) -> str:
    """Which model files the last cell saves, for `--artifacts` grading."""
    graded = [check["model"] for check in spec["checks"] if check["id"] == "accuracy"]
    files = [next(model.get("artifact", f"{key}.keras") for model in spec["models"] if model["key"] == key)
             for key in graded]
    return ", ".join(f"`{name}`" for name in dict.fromkeys(files))


def grading_table(spec: dict) -> str:
    """The exercise's checks, in the grader's order, with what each looks at and its points."""
    models = {model["key"]: model for model in spec.get("models", [])}
    lines = ["| Check | What it looks at | Points |", "|---|---|---|"]
    for check in spec["checks"]:
        lines.append(f"| {check['name']} | {check_meaning(check, models)} | {check['points']:g} |")
    total = sum(check["points"] for check in spec["checks"])
    lines.append(f"| **Total** | | **{total:g}** |")
    return "\n".join(lines)


def introduction(exercise_id: str, spec: dict, starter: Starter) -> str:
    build = "\n".join(f"- `{model['names'][0]}`: {model['title']}" for model in spec.get("models", []))
    parts = [
        f"# {spec['title']}",
        starter.lead,
        f"You build, each in a cell marked **TODO** and into the variable named there:\n\n{build}",
        starter.data_note,
        "## How it is graded\n\n" + grading_table(spec),
        ARCHITECTURE_NOTE if any(check["id"] == "architecture" for check in spec["checks"]) else "",
        "## Check your work\n\n"
        "In a terminal, in this notebook's folder (with your file's name if you renamed it):\n\n"
        f"    cnngrader grade starter.ipynb --exercise {exercise_id} --quick\n\n"
        "Quick mode runs the notebook in a fresh kernel with every `fit` cut to one epoch of 20 "
        "batches, so it takes a minute or two; checks that need full training are skipped, not "
        "failed. The score is printed, and the feedback on each check, with the cell and layer "
        "it concerns, is in `graded/starter/results.json`.",
        "Until a model is built, the cells that train or inspect it print a reminder instead, so "
        "the notebook runs from top to bottom at every stage. The training cells use the seeds' "
        "settings: run them in full once your models are ready.",
        "Accuracy is graded without `--quick`: the grader then runs the whole notebook as written, "
        "or, with `--artifacts`, runs it capped and grades the model files you hand in beside it, "
        f"in one folder ({saved_models_note(spec)}, which the notebook saves).",
    ]
    return "\n\n".join(part for part in parts if part)


def build_notebook(exercise_id: str) -> nbformat.NotebookNode:
    starter = STARTERS[exercise_id]
    cells = [Cell("markdown", introduction(exercise_id, read_spec(exercise_id), starter)), *starter.cells]
    makers = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    notebook = nbformat.v4.new_notebook(
        cells=[makers[cell.kind](cell.source, id=f"cell-{number}") for number, cell in enumerate(cells, start=1)],
        metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
    )
    nbformat.validate(notebook)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write exercises/<id>/starter.ipynb for every exercise.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a starter is out of date")
    args = parser.parse_args(argv)
    stale = []
    for exercise_id in STARTERS:
        path = EXERCISES_DIR / exercise_id / "starter.ipynb"
        text = nbformat.writes(build_notebook(exercise_id), version=4)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(EXERCISES_DIR.parent)}")
    for path in stale:
        print(f"out of date: {path.relative_to(EXERCISES_DIR.parent)} (run python exercises/make_starters.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
