"""Write the example submissions: every file's name states the verdict the grader must give.

    python examples/submissions/generate.py                  # notebooks, modules, invalid files
    python examples/submissions/generate.py --saved-models   # also (re)write the .keras files

Name: `<codes>--<architecture>--<slug>.<ext>` inside `examples/submissions/<exercise_id>/`
(graded in quick mode), its `full/` (full mode) or, for a folder holding a notebook and the
model files it saves, its `artifacts/` (--artifacts mode). `<codes>` is `clean` or the diagnosis
codes the grader must emit, sorted and joined with `+`; `<architecture>` is the combined verdict
of the exercise's architecture checks (passed, failed, error). README.md in this folder lists
what each file demonstrates.

Notebooks and modules are written deterministically (sorted keys, cell ids from the index).
The .keras files need TensorFlow, and a .keras zip records its save time, so they are written
only when missing or when --saved-models is given. Nothing is deleted: after renaming an
example here, remove the file under its old name.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from textwrap import dedent

HERE = Path(__file__).resolve().parent
ARTIFACT_MISMATCH = "artifact_mismatch--passed--uploaded_dense_model"


def code(text: str) -> tuple[str, str]:
    return ("code", dedent(text).strip("\n"))


def markdown(text: str) -> tuple[str, str]:
    return ("markdown", dedent(text).strip("\n"))


def swap(cell: tuple[str, str], old: str, new: str) -> tuple[str, str]:
    """A copy of `cell` with `old` replaced once; `old` must be there (a typo here is our bug)."""
    kind, text = cell
    if text.count(old) != 1:
        raise ValueError(f"expected exactly one {old!r} in:\n{text}")
    return (kind, text.replace(old, new))


# --- fashion_cnn: the seed-000/001 notebook, cut down to a quick run ------------------------

FASHION_DATA = code("""
    from tensorflow import keras
    from sklearn.model_selection import train_test_split

    (train_input, train_target), (test_input, test_target) = keras.datasets.fashion_mnist.load_data()
    # 2,500 images keep the run short: 2,000 to train on, 500 to validate.
    train_scaled = train_input[:2500].reshape(-1, 28, 28, 1) / 255.0
    train_scaled, val_scaled, train_target, val_target = train_test_split(
        train_scaled, train_target[:2500], test_size=0.2, random_state=42)
    print(train_scaled.shape, val_scaled.shape)
""")

FASHION_MODEL = code("""
    model = keras.Sequential()
    model.add(keras.layers.Conv2D(32, kernel_size=3, activation='relu',
                                  padding='same', input_shape=(28, 28, 1)))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Conv2D(64, kernel_size=3, activation='relu',
                                  padding='same'))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(100, activation='relu'))
    model.add(keras.layers.Dropout(0.4))
    model.add(keras.layers.Dense(10, activation='softmax'))
    model.summary()
""")

FASHION_TRAIN = code("""
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    checkpoint_cb = keras.callbacks.ModelCheckpoint('best-cnn-model.keras',
                                                    save_best_only=True)
    early_stopping_cb = keras.callbacks.EarlyStopping(patience=2,
                                                      restore_best_weights=True)
    history = model.fit(train_scaled, train_target, epochs=1,
                        validation_data=(val_scaled, val_target),
                        callbacks=[checkpoint_cb, early_stopping_cb])
""")

FASHION_EVALUATE = code("""
    model.evaluate(val_scaled, val_target)
""")

FASHION_TEST = code("""
    test_scaled = test_input[:500].reshape(-1, 28, 28, 1) / 255.0
    model.evaluate(test_scaled, test_target[:500])
""")

FASHION_PREDICT = code("""
    import numpy as np

    classes = ['t-shirt', 'pants', 'sweater', 'dress', 'coat', 'sandal',
               'shirt', 'sneakers', 'bag', 'boots']
    preds = model.predict(val_scaled[0:1])
    print(classes[np.argmax(preds)])
""")

FASHION_RELOAD = code("""
    model = keras.models.load_model('best-cnn-model.keras')
    model.evaluate(val_scaled, val_target)
""")

FASHION_WEIGHTS = code("""
    conv = model.layers[0]
    conv_weights = conv.weights[0].numpy()
    print(conv.weights[0].shape, conv.weights[1].shape)
    print(conv_weights.mean(), conv_weights.std())
""")

FASHION_FEATURE_MAPS = code("""
    # model.input fails for a Sequential model in Keras 3; model.inputs works.
    conv_acti = keras.Model(model.inputs, model.layers[0].output)
    feature_maps = conv_acti.predict(train_scaled[0:1])
    print(feature_maps.shape)
    conv2_acti = keras.Model(model.inputs, model.layers[2].output)
    feature_maps = conv2_acti.predict(train_scaled[0:1])
    print(feature_maps.shape)
""")

# Seeds 000/001 stop after the first convolution's maps: the exercise wants both.
FASHION_FIRST_MAPS_ONLY = code("""
    conv_acti = keras.Model(model.inputs, model.layers[0].output)
    feature_maps = conv_acti.predict(train_scaled[0:1])
    print(feature_maps.shape)
""")

FASHION_TITLE = markdown("""
    # Fashion-MNIST CNN

    Two 'same' convolutions with max pooling, a dense layer of 100 with dropout, 10 outputs.
""")


def fashion_with_model(model_cell: tuple[str, str], title: str, training=FASHION_TRAIN,
                       feature_maps=FASHION_FEATURE_MAPS) -> list[tuple[str, str]]:
    """The quick fashion_cnn notebook around a variant of the model cell: trained with the
    checkpoint and early stopping, the best model reloaded, the maps of both convolutions."""
    return [markdown(f"# Fashion-MNIST CNN\n\n{title}"), FASHION_DATA, model_cell,
            training, FASHION_EVALUATE, FASHION_TEST, FASHION_RELOAD, feature_maps]


def fashion_with_cell(cell: tuple[str, str], title: str, after=FASHION_EVALUATE) -> list[tuple[str, str]]:
    """The correct quick notebook with one extra cell (the one that fails) after `after`."""
    cells = fashion_with_model(FASHION_MODEL, title)
    return cells[:cells.index(after) + 1] + [cell] + cells[cells.index(after) + 1:]


def replaced(cells: list[tuple[str, str]], old: tuple[str, str], new: tuple[str, str]) -> list[tuple[str, str]]:
    """`cells` with the cell `old` replaced by `new` (no later cell uses what `old` defines)."""
    return [new if cell == old else cell for cell in cells]


def fashion_untrained(training_cell: tuple[str, str], title: str) -> list[tuple[str, str]]:
    """The training cell fails, so the CNN is never trained and the checkpoint never written:
    nothing is reloaded (there is no file), the feature maps come from the untrained model."""
    return [markdown(f"# Fashion-MNIST CNN\n\n{title}"), FASHION_DATA, FASHION_MODEL, training_cell,
            FASHION_PREDICT, FASHION_FEATURE_MAPS]


def fashion_cnn_notebooks() -> dict[str, list[tuple[str, str]]]:
    no_channel = swap(FASHION_MODEL, "input_shape=(28, 28, 1)", "input_shape=(28, 28)")
    notebooks = {
        "clean--passed--correct.ipynb": [
            FASHION_TITLE, FASHION_DATA, FASHION_MODEL, FASHION_TRAIN, FASHION_EVALUATE,
            FASHION_PREDICT, FASHION_TEST, FASHION_RELOAD, FASHION_WEIGHTS, FASHION_FEATURE_MAPS,
        ],
        # --artifacts: the folder holds the notebook and the model file it saves; the file, written
        # by write_saved_models, is a dense network, not the CNN the notebook builds.
        f"artifacts/{ARTIFACT_MISMATCH}/fashion_cnn.ipynb": [
            FASHION_TITLE, FASHION_DATA, FASHION_MODEL, FASHION_TRAIN, FASHION_EVALUATE,
            FASHION_PREDICT, FASHION_TEST, FASHION_RELOAD, FASHION_WEIGHTS, FASHION_FEATURE_MAPS,
        ],
        # --artifacts, the notebook alone: the model file it saves was not handed in beside it.
        "artifacts/missing_upload--passed--notebook_without_model_file/fashion_cnn.ipynb": [
            FASHION_TITLE, FASHION_DATA, FASHION_MODEL, FASHION_TRAIN, FASHION_EVALUATE,
            FASHION_PREDICT, FASHION_TEST, FASHION_RELOAD, FASHION_WEIGHTS, FASHION_FEATURE_MAPS,
        ],
        # The workflow around the model: training set-up, checkpoint, reload, feature maps.
        "feature_map_model_missing--passed--first_conv_maps_only.ipynb": fashion_with_model(
            FASHION_MODEL, "Seeds 000/001 show the first convolution's maps only; the exercise "
            "also wants the second's (14x14x64).", feature_maps=FASHION_FIRST_MAPS_ONLY),
        "not_reloaded--passed--checkpoint_never_loaded.ipynb": [
            cell for cell in fashion_with_model(
                FASHION_MODEL, "The checkpoint is written, but the best model is never loaded back.")
            if cell != FASHION_RELOAD],
        "missing_artifact--passed--checkpoint_to_another_file.ipynb": [
            cell for cell in fashion_with_model(
                FASHION_MODEL, "The checkpoint goes to `best-model.keras`; the exercise's "
                "`best-cnn-model.keras` is never written (nor anything loaded back).",
                training=swap(FASHION_TRAIN, "'best-cnn-model.keras'", "'best-model.keras'"))
            if cell != FASHION_RELOAD],
        "reload_mismatch--passed--saved_before_fit.ipynb": fashion_with_model(
            FASHION_MODEL, "`best-cnn-model.keras` is saved once the model is compiled, before `fit`; "
            "the checkpoint goes to `checkpoint.keras`, so the file reloaded holds untrained weights.",
            training=swap(swap(FASHION_TRAIN, "'best-cnn-model.keras'", "'checkpoint.keras'"),
                          "checkpoint_cb = ", "model.save('best-cnn-model.keras')\ncheckpoint_cb = ")),
        "missing_callback--passed--no_early_stopping.ipynb": fashion_with_model(
            FASHION_MODEL, "`fit` gets the checkpoint but no `EarlyStopping`.",
            training=swap(swap(FASHION_TRAIN, "early_stopping_cb = keras.callbacks.EarlyStopping(patience=2,\n"
                                              "                                                  restore_best_weights=True)\n", ""),
                          "callbacks=[checkpoint_cb, early_stopping_cb]", "callbacks=[checkpoint_cb]")),
        "setting_mismatch--passed--early_stopping_patience_3.ipynb": fashion_with_model(
            FASHION_MODEL, "`EarlyStopping(patience=3)`: the exercise stops after 2 epochs without improvement.",
            training=swap(FASHION_TRAIN, "EarlyStopping(patience=2", "EarlyStopping(patience=3")),
        # Errors that leave the model intact: the architecture passes.
        "syntax_error--passed--unclosed_bracket.ipynb": fashion_with_cell(code("""
            print(model.evaluate(val_scaled, val_target)
        """), "A cell with an unclosed bracket."),
        "name_error--passed--plt_not_imported.ipynb": fashion_with_cell(code("""
            plt.plot(history.history['loss'])
            plt.plot(history.history['val_loss'])
            plt.xlabel('epoch')
            plt.legend(['train', 'val'])
            plt.show()
        """), "matplotlib is used but never imported."),
        "attribute_typo--passed--model_evalute.ipynb": fashion_with_cell(code("""
            model.evalute(val_scaled, val_target)
        """), "`evaluate` misspelt."),
        # The training cell itself fails: the CNN is never trained, no checkpoint is written.
        "unknown_fit_argument--passed--fit_epoch_singular.ipynb": fashion_untrained(
            swap(FASHION_TRAIN, "epochs=1", "epoch=1"),
            "`epoch=1` instead of `epochs=1`: `fit` raises, so nothing is trained or saved."),
        "missing_channel_dim--passed--input_without_channel_then_fixed.ipynb": [
            markdown("# Fashion-MNIST CNN\n\nThe first try gives the images no channel axis; "
                     "the student fixes it in the next cell."),
            FASHION_DATA, no_channel,
            markdown("The error says the convolution wants 4 axes: add the channel."),
            FASHION_MODEL, FASHION_TRAIN, FASHION_EVALUATE, FASHION_TEST, FASHION_RELOAD, FASHION_FEATURE_MAPS,
        ],
        "legacy_save_format--passed--save_without_extension.ipynb": fashion_with_cell(code("""
            model.save('my_model')
        """), "Keras 2's SavedModel folder: `model.save('my_model')`."),
        "legacy_load_format--passed--load_model_folder.ipynb": fashion_with_cell(code("""
            reloaded = keras.models.load_model('my_model')
        """), "Keras 2's SavedModel folder, loaded: `keras.models.load_model('my_model')`."),
        "compile_positional_metrics--passed--compile_positional_accuracy.ipynb":
            fashion_untrained(
                swap(FASHION_TRAIN, "optimizer='adam', loss='sparse_categorical_crossentropy',\n"
                                    "              metrics=['accuracy']",
                     "'adam', 'sparse_categorical_crossentropy', 'accuracy'"),
                "Seed 004's `compile('Adam', loss, 'accuracy')`: the third positional argument is "
                "`loss_weights` in Keras 3, so `compile` raises and the `fit` after it never runs."),
        "metrics_not_list--passed--metrics_string.ipynb": fashion_untrained(
            swap(FASHION_TRAIN, "metrics=['accuracy']", "metrics='accuracy'"),
            "Seeds 000/001: `metrics='accuracy'`; `compile` raises and the `fit` after it never runs."),
        "sequential_input_undefined--passed--model_input_feature_map.ipynb": fashion_with_cell(code("""
            conv_acti = keras.Model(model.input, model.layers[0].output)
            feature_maps = conv_acti.predict(train_scaled[0:1])
            print(feature_maps.shape)
        """), "Seeds 000/001's feature-map model built from `model.input`."),
        "removed_api--passed--layer_output_shape.ipynb": fashion_with_cell(code("""
            for layer in model.layers:
                print(layer.name, layer.output_shape)
        """), "`layer.output_shape`, gone in Keras 3."),
        "missing_module--passed--google_colab_drive.ipynb": [
            markdown("# Fashion-MNIST CNN\n\nWritten on Colab: it mounts Google Drive first."),
            code("""
                from google.colab import drive
                drive.mount('/content/drive')
            """),
        ] + fashion_with_model(FASHION_MODEL, "")[1:],
        "hard_coded_count--passed--reshape_12000_test_images.ipynb": replaced(
            fashion_with_model(FASHION_MODEL, "The 10,000 test images reshaped as 12,000."),
            FASHION_TEST, swap(FASHION_TEST, "reshape(-1, 28, 28, 1)", "reshape(12000, 28, 28, 1)")),
        "runtime_error--passed--reshape_29x29.ipynb": replaced(
            fashion_with_model(FASHION_MODEL, "The test images are reshaped to the wrong size."),
            FASHION_TEST, swap(FASHION_TEST, "reshape(-1, 28, 28, 1)", "reshape(-1, 29, 29, 1)")),
        # Wrong architectures: the model is built and trained, but it is not the expected one.
        "param_mismatch+shape_mismatch--failed--valid_padding_first_conv.ipynb":
            fashion_with_model(
                swap(FASHION_MODEL, "padding='same', input_shape", "padding='valid', input_shape"),
                "padding='valid' in the first convolution: 26x26 maps, then 13 and 6; "
                "the dense layer gets 2,304 inputs instead of 3,136."),
        "param_mismatch--failed--first_conv_kernel_5.ipynb": fashion_with_model(
            swap(FASHION_MODEL, "Conv2D(32, kernel_size=3", "Conv2D(32, kernel_size=5"),
            "A 5x5 kernel in the first convolution: same shapes ('same' padding), 832 parameters "
            "instead of 320."),
        "param_mismatch--failed--dense_without_bias.ipynb": fashion_with_model(
            swap(FASHION_MODEL, "Dense(100, activation='relu')",
                 "Dense(100, activation='relu', use_bias=False)"),
            "Dense(100) without bias: 313,600 parameters instead of 313,700."),
        "setting_mismatch--failed--dropout_rate_0_5.ipynb": fashion_with_model(
            swap(FASHION_MODEL, "Dropout(0.4)", "Dropout(0.5)"),
            "Dropout(0.5) instead of 0.4: shapes and parameter counts are unchanged."),
        "layer_missing--failed--no_dropout.ipynb": fashion_with_model(
            swap(FASHION_MODEL, "model.add(keras.layers.Dropout(0.4))\n", ""),
            "No Dropout after the dense layer: shapes and parameter counts are unchanged."),
        "layer_extra--failed--extra_batchnorm.ipynb": fashion_with_model(
            swap(FASHION_MODEL, "model.add(keras.layers.MaxPooling2D(2))\nmodel.add(keras.layers.Conv2D(64",
                 "model.add(keras.layers.BatchNormalization())\n"
                 "model.add(keras.layers.MaxPooling2D(2))\nmodel.add(keras.layers.Conv2D(64"),
            "A BatchNormalization after the first convolution: no other layer changes (the second "
            "convolution is now `model.layers[3]`).",
            feature_maps=swap(FASHION_FEATURE_MAPS, "model.layers[2]", "model.layers[3]")),
        "layer_extra+param_mismatch--failed--extra_dense_64.ipynb": fashion_with_model(
            swap(FASHION_MODEL, "model.add(keras.layers.Dense(10,",
                 "model.add(keras.layers.Dense(64, activation='relu'))\nmodel.add(keras.layers.Dense(10,"),
            "An extra Dense(64) before the output: the output layer then has 650 parameters, "
            "not 1,010."),
        "layer_type_mismatch--failed--average_pooling_first_block.ipynb": fashion_with_model(
            swap(FASHION_MODEL, "model.add(keras.layers.MaxPooling2D(2))\nmodel.add(keras.layers.Conv2D(64",
                 "model.add(keras.layers.AveragePooling2D(2))\nmodel.add(keras.layers.Conv2D(64"),
            "AveragePooling2D(2) where MaxPooling2D(2) belongs: same shapes, same counts."),
        "wrong_output_classes--failed--dense_5_output.ipynb": [
            markdown("# Fashion-MNIST CNN\n\nFive outputs for ten classes. Labels 5 to 9 would make "
                     "the loss fail, so the student trains on the first five classes only."),
            FASHION_DATA,
            code("""
                train_scaled, train_target = train_scaled[train_target < 5], train_target[train_target < 5]
                val_scaled, val_target = val_scaled[val_target < 5], val_target[val_target < 5]
            """),
            swap(FASHION_MODEL, "Dense(10, activation='softmax')", "Dense(5, activation='softmax')"),
            FASHION_TRAIN, FASHION_EVALUATE, FASHION_RELOAD, FASHION_FEATURE_MAPS,
        ],
        # Errors that stop the model from being built or judged.
        "missing_channel_dim--error--input_without_channel.ipynb": [
            markdown("# Fashion-MNIST CNN\n\n`input_shape=(28, 28)`: Keras 3 raises at the first "
                     "`model.add`, so the CNN is never built; no later cell uses it."),
            FASHION_DATA, no_channel,
            code("""
                print(train_scaled.shape, train_scaled.min(), train_scaled.max())
            """),
        ],
        # A construction error halfway through: Keras keeps the half-built model, which is judged.
        "layer_missing+mixed_keras--failed--tf_keras_dense_in_keras_model.ipynb": [
            markdown("# Fashion-MNIST CNN\n\n`import keras`, then `from tf_keras.layers import Dense`: the "
                     "Keras 2 layer added to the Keras 3 model raises at `model.add`; Keras keeps the model "
                     "built so far (convolutions, pooling, Flatten), without its dense layers. No later cell "
                     "uses it."),
            FASHION_DATA,
            swap(swap(swap(FASHION_MODEL, "model = keras.Sequential()",
                           "import keras\nfrom tf_keras.layers import Dense\n\nmodel = keras.Sequential()"),
                      "model.add(keras.layers.Dense(100", "model.add(Dense(100"),
                 "model.add(keras.layers.Dense(10,", "model.add(Dense(10,"),
            code("""
                print(train_scaled.shape, train_scaled.min(), train_scaled.max())
            """),
        ],
        "missing_model--error--only_loads_data.ipynb": [
            markdown("# Fashion-MNIST CNN\n\nThe data is prepared; no model is ever built."),
            FASHION_DATA,
            code("""
                import numpy as np
                print(np.bincount(train_target), val_scaled.shape)
            """),
        ],
        # Hostile notebooks: the model is built first, then the run misbehaves.
        "timeout--passed--infinite_loop_after_model.ipynb": hostile("""
            while True:
                pass
        """, "A cell that never ends."),
        "kernel_died--passed--os_exit_after_model.ipynb": hostile("""
            import os
            os._exit(1)
        """, "A cell that kills its own kernel."),
        "memory_limit--passed--allocates_4gb_after_model.ipynb": hostile("""
            import numpy as np
            x = np.ones((4, 1024, 1024, 1024), dtype=np.uint8)  # 4 GiB, every page written
            print(x.shape)
        """, "A cell that allocates and fills 4 GiB."),
    }
    return notebooks


def hostile(text: str, title: str) -> list[tuple[str, str]]:
    return [
        markdown(f"# Fashion-MNIST CNN\n\n{title} The CNN is built, trained, reloaded and its "
                 "feature maps shown before it."),
        FASHION_DATA, FASHION_MODEL, FASHION_TRAIN, FASHION_RELOAD, FASHION_FEATURE_MAPS,
        code(text),
        code("print('not reached')"),
    ]


# --- cnn_transfer: seed 004 on the data file the grader provides ---------------------------

TRANSFER_DATA = code("""
    import numpy as np
    import tensorflow as tf

    # The grader puts this file beside the notebook (CIFAR-100 mammals, or the Fashion-MNIST
    # stand-in offline: 4 coarse classes, 10 fine ones).
    data = np.load('cnn_transfer_data.npz')
    train = data['x_train'][:400] / 255.0
    test = data['x_test'][:200] / 255.0
    tr_super_y = data['y_train_coarse'][:400]
    tr_sub_y = data['y_train_fine'][:400]
    ts_super_y = data['y_test_coarse'][:200]
    n_super = 4
    n_sub = int(data['y_train_fine'].max()) + 1
    print(train.shape, test.shape, n_super, n_sub)
""")

TRANSFER_CONV = code("""
    model = tf.keras.Sequential()
    model.add(tf.keras.Input((32, 32, 3)))
    model.add(tf.keras.layers.Conv2D(
        filters=2,
        kernel_size=(3, 3),
        strides=(1, 1),
        padding='same',  # valid gives 30, 30, 2
    ))
    model.summary()
""")

TRANSFER_STRIDED = code("""
    model = tf.keras.Sequential()
    model.add(tf.keras.Input((32, 32, 3)))
    for n in range(4):
        model.add(tf.keras.layers.Conv2D(filters=2**6, kernel_size=3, strides=2, padding='same'))
        model.add(tf.keras.layers.BatchNormalization())
        model.add(tf.keras.layers.Activation('relu'))

    model.add(tf.keras.layers.Flatten())
    model.add(tf.keras.layers.Dense(n_super, 'softmax'))
    model.summary()
""")

TRANSFER_STRIDED_FIT = code("""
    model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(train, tf.keras.utils.to_categorical(tr_super_y, n_super),
                        batch_size=200, epochs=1)
    print(f'Except pooling model : {(model.predict(test).argmax(1) == ts_super_y).mean() * 100:.5}%')
""")

TRANSFER_POOL_BESIDE = code("""
    model_pool = tf.keras.Sequential()
    model_pool.add(tf.keras.Input((32, 32, 3)))
    for n in range(4):
        model_pool.add(tf.keras.layers.Conv2D(filters=2**6, kernel_size=3, strides=2, padding='same'))
        model_pool.add(tf.keras.layers.BatchNormalization())
        model_pool.add(tf.keras.layers.Activation('relu'))
        model_pool.add(tf.keras.layers.MaxPool2D())   # this one fails

    model_pool.add(tf.keras.layers.Flatten())
    model_pool.add(tf.keras.layers.Dense(n_super, 'softmax'))
    model_pool.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    model_pool.summary()
    history_pool = model_pool.fit(train, tf.keras.utils.to_categorical(tr_super_y, n_super),
                                  batch_size=200, epochs=1)
""")

TRANSFER_EXTRACTOR = code("""
    def shared_function():
        input_layer = tf.keras.Input((32, 32, 3))
        for n in range(4):
            if n == 0:
                conv = tf.keras.layers.Conv2D(filters=2**7, kernel_size=3, padding='same')(input_layer)
            else:
                conv = tf.keras.layers.Conv2D(filters=2**7, kernel_size=3, padding='same')(pool)
            batch = tf.keras.layers.BatchNormalization()(conv)
            activ = tf.keras.layers.Activation('relu')(batch)
            pool = tf.keras.layers.MaxPool2D()(activ)

        return tf.keras.models.Model(input_layer, pool)
    shared_model = shared_function()
    shared_model.summary()
""")

TRANSFER_CLASSIFIER = code("""
    super_input_layer = tf.keras.Input((32, 32, 3))
    flat_layer = tf.keras.layers.Flatten()(shared_model(super_input_layer))
    super_output_layer = tf.keras.layers.Dense(n_super, activation='softmax')(flat_layer)
    super_model = tf.keras.models.Model(super_input_layer, super_output_layer)
    super_model.summary()
    super_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    history_super = super_model.fit(train, tf.keras.utils.to_categorical(tr_super_y, n_super),
                                    batch_size=200, epochs=1)
    print(f'Super pooling model : {(super_model.predict(test).argmax(1) == ts_super_y).mean() * 100:.5}%')
""")

TRANSFER_SAVE = code("""
    shared_model.save('shared_model.keras')
""")

TRANSFER_LOAD = code("""
    load_shared_model = tf.keras.models.load_model('shared_model.keras')
    load_shared_model.summary()
""")

TRANSFER_FINE = code("""
    load_shared_model.trainable = False  # only the new head learns
    load_sub_input_layer = tf.keras.Input((32, 32, 3))
    flat_layer = tf.keras.layers.Flatten()(load_shared_model(load_sub_input_layer))
    load_sub_output_layer = tf.keras.layers.Dense(n_sub, activation='softmax')(flat_layer)
    load_sub_model = tf.keras.models.Model(load_sub_input_layer, load_sub_output_layer)
    load_sub_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    history_sub = load_sub_model.fit(train, tf.keras.utils.to_categorical(tr_sub_y, n_sub),
                                     batch_size=200, epochs=1)
""")


TRANSFER_SCRATCH = code("""
    # The same architecture from scratch, on the same budget: what did the coarse training bring?
    scratch_input_layer = tf.keras.Input((32, 32, 3))
    flat_layer = tf.keras.layers.Flatten()(shared_function()(scratch_input_layer))
    scratch_output_layer = tf.keras.layers.Dense(n_sub, activation='softmax')(flat_layer)
    scratch_sub_model = tf.keras.models.Model(scratch_input_layer, scratch_output_layer)
    scratch_sub_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    history_scratch = scratch_sub_model.fit(train, tf.keras.utils.to_categorical(tr_sub_y, n_sub),
                                            batch_size=200, epochs=1)
""")


def seeded(cell: tuple[str, str], after: str, keras: str = "keras") -> tuple[str, str]:
    """`cell` with Keras's random seed set after the line `after`: a full-mode example must give
    the same accuracies, hence the same verdict, on every run."""
    return swap(cell, after, after + f"{keras}.utils.set_random_seed(0)  # the same run every time\n")


def transfer_notebook(title: str, strided=(TRANSFER_STRIDED, TRANSFER_STRIDED_FIT),
                      extra_after_strided=(), before_data=(),
                      transfer=(TRANSFER_FINE, TRANSFER_SCRATCH), data=TRANSFER_DATA) -> list[tuple[str, str]]:
    return [
        markdown(f"## Week10. Convolutional Neural Network\n\n{title}"),
        *before_data,
        data,
        markdown("## 1. Tensorflow - Convolution layer"),
        TRANSFER_CONV,
        markdown("## 2. Tensorflow - Pooling layer"),
        *strided,
        *extra_after_strided,
        markdown("## 3. Transfer learning"),
        TRANSFER_EXTRACTOR, TRANSFER_CLASSIFIER, TRANSFER_SAVE, TRANSFER_LOAD, *transfer,
    ]


def cnn_transfer_notebooks() -> dict[str, list[tuple[str, str]]]:
    strided_with_pool = swap(
        TRANSFER_STRIDED,
        "    model.add(tf.keras.layers.Activation('relu'))\n",
        "    model.add(tf.keras.layers.Activation('relu'))\n"
        "    model.add(tf.keras.layers.MaxPool2D())\n",
    )
    return {
        "clean--passed--correct.ipynb": transfer_notebook(
            "Conv2D, the strided CNN, the shared extractor saved as .keras and reloaded, "
            "a fine-class head on the reloaded, frozen extractor, and the same model from scratch."),
        "base_not_reloaded--passed--head_on_extractor_in_memory.ipynb": transfer_notebook(
            "The fine-class head goes on `shared_model`, the extractor still in memory, not on the "
            "`load_shared_model` loaded back from its file.",
            transfer=(swap(swap(TRANSFER_FINE, "load_shared_model.trainable", "shared_model.trainable"),
                           "(load_shared_model(load_sub_input_layer))", "(shared_model(load_sub_input_layer))"),
                      TRANSFER_SCRATCH)),
        "base_not_frozen--passed--extractor_left_trainable.ipynb": transfer_notebook(
            "The reloaded extractor is not frozen: the fine-class training overwrites its features.",
            transfer=(swap(TRANSFER_FINE, "load_shared_model.trainable = False  # only the new head learns\n", ""),
                      TRANSFER_SCRATCH)),
        "missing_baseline--passed--no_model_from_scratch.ipynb": transfer_notebook(
            "The transfer model is trained, but nothing from scratch to compare it with.",
            transfer=(TRANSFER_FINE,)),
        # Full mode: 200 images and one epoch per stage, as written; the grader measures the
        # classifier and both fine-class models on the 1,500 test images.
        "full/accuracy_below_threshold+no_transfer_gain--passed--one_epoch_on_200_images.ipynb": transfer_notebook(
            "The correct notebook on 200 images, run as written: one epoch per stage is far from the "
            "classifier's pass mark, and the coarse training brings the fine classes almost nothing.",
            data=seeded(("code", TRANSFER_DATA[1].replace("[:400]", "[:200]")), "import tensorflow as tf\n",
                        "tf.keras")),
        "unfair_baseline--passed--scratch_batch_100.ipynb": transfer_notebook(
            "The model from scratch trains with batches of 100, twice the steps of the transfer model.",
            transfer=(TRANSFER_FINE, swap(TRANSFER_SCRATCH, "batch_size=200", "batch_size=100"))),
        "pooling_collapse--passed--pool_model_beside_strided.ipynb": transfer_notebook(
            "The correct notebook plus seed 004's `model_pool`: MaxPool2D in every strided "
            "block collapses the map (1x1 -> 0x0) in the third block.",
            extra_after_strided=(TRANSFER_POOL_BESIDE,)),
        "pooling_collapse--error--strided_with_pool_in_every_block.ipynb": transfer_notebook(
            "The strided CNN itself has MaxPool2D in every block: Keras raises at `model.add` "
            "in the third block, so there is no strided model to judge.",
            strided=(strided_with_pool,)),
        "data_unavailable--passed--seed_npy_files.ipynb": transfer_notebook(
            "Seed 004's first loading cell reads files from the student's own computer; the "
            "next cell loads the data the grader provides.",
            before_data=(code("""
                import numpy as np
                train = np.load('10_train.npy')
                test = np.load('10_test.npy')
                train.shape
            """),)),
    }


# --- the other exercises: one correct notebook each --------------------------------------

def fashion_conv_intro_notebooks() -> dict[str, list[tuple[str, str]]]:
    data = code("""
        import tensorflow as tf
        mnist = tf.keras.datasets.fashion_mnist
        (training_images, training_labels), (test_images, test_labels) = mnist.load_data()
        training_images, training_labels = training_images[:2000] / 255.0, training_labels[:2000]
        test_images, test_labels = test_images[:500] / 255.0, test_labels[:500]
    """)
    dense = code("""
        model = tf.keras.models.Sequential([
          tf.keras.layers.Flatten(input_shape=(28, 28)),
          tf.keras.layers.Dense(128, activation='relu'),
          tf.keras.layers.Dense(10, activation='softmax')
        ])
        model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
        model.fit(training_images, training_labels, epochs=1)
        test_loss = model.evaluate(test_images, test_labels)
    """)
    cnn = code("""
        training_images = training_images.reshape(-1, 28, 28, 1)
        test_images = test_images.reshape(-1, 28, 28, 1)

        model = tf.keras.models.Sequential([
            tf.keras.layers.Conv2D(64, (3, 3), activation='relu', input_shape=(28, 28, 1)),
            tf.keras.layers.MaxPooling2D(2, 2),
            tf.keras.layers.Conv2D(64, (3, 3), activation='relu'),
            tf.keras.layers.MaxPooling2D(2, 2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(128, activation='relu'),
            tf.keras.layers.Dense(10, activation='softmax')
        ])
        model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
        model.summary()
        model.fit(training_images, training_labels, epochs=1)
        test_loss, test_acc = model.evaluate(test_images, test_labels)
        print(test_acc)
    """)
    activations = code("""
        FIRST_IMAGE = 0
        CONVOLUTION_NUMBER = 1
        layer_outputs = [layer.output for layer in model.layers]
        activation_model = tf.keras.models.Model(inputs=model.inputs, outputs=layer_outputs)
        f1 = activation_model.predict(test_images[FIRST_IMAGE:FIRST_IMAGE + 1])
        for x in range(0, 4):
            print(f1[x].shape, f1[x][0, :, :, CONVOLUTION_NUMBER].max())
    """)
    title = markdown("""
        # Improving the Fashion classifier with convolutions

        The dense baseline, then the CNN with 'valid' convolutions, then the activation model.
    """)
    typo = swap(activations, "tf.keras.models.Model(", "tf.keras.model.Model(")
    # The lab's own spelling: tf.nn.softmax is stored in the config as the plain function
    # 'softmax_v2', not as Keras's 'softmax'; it is the same activation and must pass.
    tf_nn = swap(swap(dense, "activation='relu'", "activation=tf.nn.relu"),
                 "activation='softmax'", "activation=tf.nn.softmax")
    few_images = swap(swap(cnn, "model.fit(training_images, training_labels, epochs=1)",
                           "model.fit(training_images[:100], training_labels[:100], epochs=1)"),
                      "model.summary()\n", "model.summary()\n# 100 images: a quick try that was never rerun in full.\n")
    return {
        "clean--passed--correct.ipynb": [title, data, dense, cnn, activations],
        "clean--passed--tf_nn_activations.ipynb": [title, data, tf_nn, cnn, activations],
        # The typo is in the cell that builds the activation model, so there is none.
        "attribute_typo--passed--keras_model_module.ipynb": [title, data, dense, cnn, typo],
        # Full mode: the notebook runs as written and the grader measures both models.
        "full/accuracy_below_threshold+accuracy_order--passed--cnn_trained_on_100_images.ipynb": [
            markdown("""
                # Improving the Fashion classifier with convolutions

                The dense baseline trains on 2,000 images, the CNN on 100 only: measured by the
                grader, the CNN does worse than the baseline, and neither reaches its pass mark.
            """),
            seeded(data, "import tensorflow as tf\n", "tf.keras"), dense, few_images, activations],
    }


def fashion_pooling_notebooks() -> dict[str, list[tuple[str, str]]]:
    average = code("""
        # Average pooling with a 3x3 window and 32 filters in the second convolution
        model = keras.Sequential()
        model.add(keras.layers.Conv2D(32, kernel_size=3, activation='relu',
                                      padding='same', input_shape=(28, 28, 1)))
        model.add(keras.layers.AveragePooling2D(3))
        model.add(keras.layers.Conv2D(32, kernel_size=(3, 3), activation='relu',
                                      padding='same'))
        model.add(keras.layers.AveragePooling2D(3))
        model.add(keras.layers.Flatten())
        model.add(keras.layers.Dense(100, activation='relu'))
        model.add(keras.layers.Dropout(0.4))
        model.add(keras.layers.Dense(10, activation='softmax'))
        model.summary()
    """)
    maximum = code("""
        max_model = keras.Sequential()
        max_model.add(keras.layers.Conv2D(32, kernel_size=3, activation='relu',
                                          padding='same', input_shape=(28, 28, 1)))
        max_model.add(keras.layers.MaxPooling2D(2))
        max_model.add(keras.layers.Conv2D(64, kernel_size=(3, 3), activation='relu',
                                          padding='same'))
        max_model.add(keras.layers.MaxPooling2D(2))
        max_model.add(keras.layers.Flatten())
        max_model.add(keras.layers.Dense(100, activation='relu'))
        max_model.add(keras.layers.Dropout(0.4))
        max_model.add(keras.layers.Dense(10, activation='softmax'))
        max_model.summary()
    """)
    full_data = seeded(FASHION_DATA, "from sklearn.model_selection import train_test_split\n")
    unscaled = swap(full_data, "train_input[:2500].reshape(-1, 28, 28, 1) / 255.0",
                    "train_input[:2500].reshape(-1, 28, 28, 1)  # scaled inside the model")
    scaling_layer = code("""
        class Scale(keras.layers.Layer):
            \"\"\"Divides the pixels by 255, inside the model.\"\"\"

            def call(self, inputs):
                return inputs / 255.0
    """)

    def scaled_inside(first_layer: str) -> tuple[str, str]:
        return swap(average, "model = keras.Sequential()\n",
                    f"model = keras.Sequential()\nmodel.add(keras.Input((28, 28, 1)))\nmodel.add({first_layer})\n")

    return {
        "clean--passed--correct.ipynb": [
            markdown("# Pooling experiments\n\nAverage pooling (3x3) against max pooling (2x2)."),
            FASHION_DATA, average, FASHION_TRAIN, FASHION_EVALUATE, maximum,
        ],
        # Full mode: the notebook runs as written (one epoch on 2,000 images: seconds) and the
        # grader measures the average-pooling CNN on the 10,000 test images.
        "full/accuracy_below_threshold--passed--one_epoch_on_2000_images.ipynb": [
            markdown("# Pooling experiments\n\nThe correct notebook, trained for one epoch on 2,000 "
                     "images: far from the pass mark."),
            full_data, average, FASHION_TRAIN, FASHION_EVALUATE, maximum,
        ],
        "full/not_trained--passed--avg_model_never_fitted.ipynb": [
            markdown("# Pooling experiments\n\nThe average-pooling CNN is built and compiled, never trained."),
            full_data, average,
            code("""
                model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
                model.evaluate(val_scaled, val_target)
            """),
            maximum,
        ],
        "full/lambda_layer+layer_extra--failed--lambda_scaling.ipynb": [
            markdown("# Pooling experiments\n\nThe pixels are scaled inside the model by a `Lambda` "
                     "layer, which the grader will not load."),
            unscaled, scaled_inside("keras.layers.Lambda(lambda x: x / 255.0)"),
            FASHION_TRAIN, FASHION_EVALUATE, maximum,
        ],
        "full/custom_object+layer_extra--failed--scaling_layer_class.ipynb": [
            markdown("# Pooling experiments\n\nThe pixels are scaled inside the model by a layer class "
                     "defined in the notebook, which the grader cannot load."),
            unscaled, scaling_layer, scaled_inside("Scale()"),
            FASHION_TRAIN, FASHION_EVALUATE, maximum,
        ],
    }


def mnist_models_notebooks() -> dict[str, list[tuple[str, str]]]:
    return {
        "clean--passed--correct.ipynb": [
            markdown("## Keras with MNIST dataset"),
            code("""
                import numpy as np
                import tensorflow as tf
                import tensorflow.keras as keras
                from tensorflow.keras import layers, models
                from tensorflow.keras.datasets import mnist
                from tensorflow.keras.utils import to_categorical
            """),
            markdown("#### Single flattened layer"),
            code("""
                (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
                train_images = train_images[:2000].reshape((-1, 28*28*1)).astype('float32')/255
                test_images = test_images[:500].reshape((-1, 28*28*1)).astype('float32')/255
                train_labels = to_categorical(train_labels[:2000], 10)   # one-hot encoding
                test_labels = to_categorical(test_labels[:500], 10)
            """),
            code("""
                model = models.Sequential()
                model.add(layers.Dense(10, activation='softmax', input_shape=(28*28*1, )))
                model.summary()
                model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
                history = model.fit(train_images, train_labels, epochs=1, batch_size=128, verbose=2)
                test_loss, test_acc = model.evaluate(test_images, test_labels)
                print('test_acc = ', test_acc)
            """),
            markdown("#### MLP with hidden layers"),
            code("""
                model = models.Sequential()
                model.add(layers.Dense(100, activation='relu', input_shape=(28*28*1, )))
                model.add(layers.Dense(100, activation='relu'))
                model.add(layers.Flatten())
                model.add(layers.Dense(10, activation='softmax'))
                model.summary()
                model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
                model.fit(train_images, train_labels, epochs=1, batch_size=200)
                test_loss, test_acc = model.evaluate(test_images, test_labels)
                print('test_acc = ', test_acc)
            """),
            markdown("### CNN"),
            code("""
                train_images = train_images.reshape(-1, 28, 28, 1)
                test_images = test_images.reshape(-1, 28, 28, 1)

                model = models.Sequential()
                model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
                model.add(layers.MaxPooling2D((2, 2)))
                model.add(layers.Conv2D(64, (3, 3), activation='relu'))
                model.add(layers.MaxPooling2D((2, 2)))
                model.add(layers.Conv2D(64, (3, 3), activation='relu'))
                model.add(layers.Flatten())
                model.add(layers.Dense(10, activation='softmax'))
                model.summary()
                model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
                model.fit(train_images, train_labels, epochs=1, batch_size=200)
                test_loss, test_acc = model.evaluate(test_images, test_labels)
                print('test_acc = ', test_acc)
            """),
        ],
        # A real learner's notebook: the reshape in cell 2 counts the 60,000 images of the full
        # training set (offline there are 8,000), and cells 3, 5 and 7 then use names it was to
        # define. One root cause, `hard_coded_count`; the three NameErrors are its consequences.
        "hard_coded_count--passed--reshape_60000_then_names_undefined.ipynb": [
            markdown("## Keras with MNIST dataset"),
            code("""
                import numpy as np
                from tensorflow.keras import layers, models
                from tensorflow.keras.datasets import mnist
                from tensorflow.keras.utils import to_categorical
            """),
            code("""
                (x_train, y_train), (x_test, y_test) = mnist.load_data()
                train_images = x_train.reshape((60000, 28 * 28)).astype('float32') / 255
                test_images = x_test.reshape((-1, 28 * 28)).astype('float32') / 255
                train_labels = to_categorical(y_train, 10)
                test_labels = to_categorical(y_test, 10)
            """),
            code("""
                model = models.Sequential()
                model.add(layers.Dense(10, activation='softmax', input_shape=(28 * 28, )))
                model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
                model.fit(train_images, train_labels, epochs=1, batch_size=128)
            """),
            markdown("#### MLP with hidden layers"),
            code("""
                print('dense model built')
            """),
            code("""
                model = models.Sequential()
                model.add(layers.Dense(100, activation='relu', input_shape=(28 * 28, )))
                model.add(layers.Dense(100, activation='relu'))
                model.add(layers.Flatten())
                model.add(layers.Dense(10, activation='softmax'))
                model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
                model.fit(train_images, train_labels, epochs=1, batch_size=200)
            """),
            code("""
                print('MLP built')
            """),
            code("""
                model = models.Sequential()
                model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
                model.add(layers.MaxPooling2D((2, 2)))
                model.add(layers.Conv2D(64, (3, 3), activation='relu'))
                model.add(layers.MaxPooling2D((2, 2)))
                model.add(layers.Conv2D(64, (3, 3), activation='relu'))
                model.add(layers.Flatten())
                model.add(layers.Dense(10, activation='softmax'))
                model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
                model.fit(train_images.reshape(-1, 28, 28, 1), train_labels, epochs=1, batch_size=200)
            """),
        ],
    }


# --- modules --------------------------------------------------------------------------------

MNIST_MODULE = '''
        """The MNIST ladder: one dense layer, an MLP, a CNN of three 'valid' convolutions."""

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
            return compiled(model)
    '''

MODULES = {
    "fashion_cnn/clean--passed--correct_module.py": '''
        """Fashion-MNIST CNN: two 'same' convolutions with max pooling, Dense(100), Dropout, Dense(10)."""

        import keras
        from keras import layers


        def build_model():
            model = keras.Sequential([
                keras.Input((28, 28, 1)),
                layers.Conv2D(32, kernel_size=3, activation="relu", padding="same"),
                layers.MaxPooling2D(2),
                layers.Conv2D(64, kernel_size=3, activation="relu", padding="same"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(100, activation="relu"),
                layers.Dropout(0.4),
                layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
    ''',
    "fashion_cnn/missing_entry_point--error--build_cnn_instead_of_build_model.py": '''
        """The right CNN under the wrong name: the exercise asks for build_model()."""

        import keras
        from keras import layers


        def build_cnn():
            model = keras.Sequential([
                keras.Input((28, 28, 1)),
                layers.Conv2D(32, kernel_size=3, activation="relu", padding="same"),
                layers.MaxPooling2D(2),
                layers.Conv2D(64, kernel_size=3, activation="relu", padding="same"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(100, activation="relu"),
                layers.Dropout(0.4),
                layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
    ''',
    "mnist_models/clean--passed--correct_module.py": MNIST_MODULE,
    # The same module, but build_cnn() builds the CNN and forgets to return it.
    "mnist_models/returned_not_a_model--error--build_cnn_returns_none.py": MNIST_MODULE.replace(
        "The MNIST ladder: one dense layer, an MLP, a CNN of three 'valid' convolutions.",
        "The MNIST ladder, but build_cnn() builds the CNN and forgets to return it.",
    ).replace("            model.add(layers.Dense(10, activation=\"softmax\"))\n            return compiled(model)\n    ",
              "            model.add(layers.Dense(10, activation=\"softmax\"))\n            compiled(model)\n    "),
}

# Files that are not notebooks at all, written byte for byte.
RAW_FILES = {
    "fashion_cnn/invalid_notebook--error--not_json.ipynb":
        "This is my homework. I could not upload the notebook, so here is the code:\n\n"
        "model = keras.Sequential()\nmodel.add(keras.layers.Conv2D(32, 3, padding='same'))\n",
    "fashion_cnn/invalid_notebook--error--json_list.ipynb":
        json.dumps([{"cell_type": "code", "source": "model = keras.Sequential()"}], indent=1) + "\n",
    "fashion_cnn/invalid_notebook--error--missing_cells.ipynb":
        json.dumps({"metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                               "name": "python3"}},
                    "nbformat": 4, "nbformat_minor": 5}, indent=1, sort_keys=True) + "\n",
    "fashion_cnn/unloadable_model--error--not_a_zip.keras":
        "model.keras\n\nI trained the model on Colab; the file was too big to upload.\n",
}


def notebook_json(cells: list[tuple[str, str]]) -> str:
    json_cells = []
    for index, (kind, text) in enumerate(cells):
        lines = [line + "\n" for line in text.split("\n")]
        lines[-1] = lines[-1][:-1]
        cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {},
                "source": lines if lines[-1] else lines[:-1]}
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        json_cells.append(cell)
    notebook = {
        "cells": json_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def all_notebooks() -> dict[str, list[tuple[str, str]]]:
    notebooks = {}
    for exercise, make in (("fashion_cnn", fashion_cnn_notebooks), ("cnn_transfer", cnn_transfer_notebooks),
                           ("fashion_conv_intro", fashion_conv_intro_notebooks),
                           ("fashion_pooling", fashion_pooling_notebooks),
                           ("mnist_models", mnist_models_notebooks)):
        for name, cells in make().items():
            notebooks[f"{exercise}/{name}"] = cells
    return notebooks


def write_saved_models(force: bool) -> None:
    """The .keras files, each written when missing or when forced: the correct fashion_cnn CNN,
    untrained, saved with model.save (the reference builder); and for --artifacts, an uploaded
    file of another architecture."""
    builders = {HERE / "fashion_cnn" / "clean--passed--saved_model.keras": reference_cnn,
                HERE / "fashion_cnn" / "artifacts" / ARTIFACT_MISMATCH / "best-cnn-model.keras": dense_model}
    for target, build in builders.items():
        if target.exists() and not force:
            continue
        sys.path.insert(0, str(HERE.parents[1]))
        import keras

        keras.utils.set_random_seed(0)
        target.parent.mkdir(parents=True, exist_ok=True)
        build(keras).save(target)
        print(f"wrote {target.relative_to(HERE)}")


def reference_cnn(keras):
    from grader.resources import load_reference_module

    return load_reference_module("fashion_cnn").build_cnn()


def dense_model(keras):
    """A dense network where the CNN belongs: the file of another attempt, uploaded by mistake."""
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved-models", action="store_true", help="rewrite the .keras files")
    args = parser.parse_args()
    written = []
    for relative, cells in all_notebooks().items():
        written.append((relative, notebook_json(cells)))
    for relative, text in MODULES.items():
        written.append((relative, dedent(text).lstrip("\n")))
    written += list(RAW_FILES.items())
    for relative, text in written:
        path = HERE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(written)} files under {HERE}")
    write_saved_models(force=args.saved_models)


if __name__ == "__main__":
    main()
