"""Write the example submissions: every file's name states the verdict the grader must give.

    python examples/submissions/generate.py                  # notebooks, modules, invalid files
    python examples/submissions/generate.py --saved-models   # also (re)write the .keras files

Name: `<codes>--<architecture>--<slug>.<ext>` inside `examples/submissions/<exercise_id>/`.
`<codes>` is `clean` or the diagnosis codes the grader must emit, sorted and joined with `+`;
`<architecture>` is the combined verdict of the exercise's architecture checks (passed, failed,
error). README.md in this folder lists what each file demonstrates.

Notebooks and modules are written deterministically (sorted keys, cell ids from the index).
The .keras files need TensorFlow, and a .keras zip records its save time, so they are written
only when missing or when --saved-models is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from textwrap import dedent

HERE = Path(__file__).resolve().parent


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
""")

FASHION_TITLE = markdown("""
    # Fashion-MNIST CNN

    Two 'same' convolutions with max pooling, a dense layer of 100 with dropout, 10 outputs.
""")


def fashion_with_model(model_cell: tuple[str, str], title: str) -> list[tuple[str, str]]:
    """The quick fashion_cnn notebook around a variant of the model cell."""
    return [markdown(f"# Fashion-MNIST CNN\n\n{title}"), FASHION_DATA, model_cell,
            FASHION_TRAIN, FASHION_EVALUATE, FASHION_TEST]


def fashion_with_cell(cell: tuple[str, str], title: str, after=FASHION_EVALUATE) -> list[tuple[str, str]]:
    """The correct quick notebook with one extra cell (the one that fails) after `after`."""
    cells = fashion_with_model(FASHION_MODEL, title)
    return cells[:cells.index(after) + 1] + [cell] + cells[cells.index(after) + 1:]


def fashion_cnn_notebooks() -> dict[str, list[tuple[str, str]]]:
    no_channel = swap(FASHION_MODEL, "input_shape=(28, 28, 1)", "input_shape=(28, 28)")
    notebooks = {
        "clean--passed--correct.ipynb": [
            FASHION_TITLE, FASHION_DATA, FASHION_MODEL, FASHION_TRAIN, FASHION_EVALUATE,
            FASHION_PREDICT, FASHION_TEST, FASHION_RELOAD, FASHION_WEIGHTS, FASHION_FEATURE_MAPS,
        ],
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
        "unknown_fit_argument--passed--fit_epoch_singular.ipynb": fashion_with_model(
            FASHION_MODEL, "`epoch=1` instead of `epochs=1`.")[:3] + [
            swap(FASHION_TRAIN, "epochs=1", "epoch=1"), FASHION_EVALUATE, FASHION_TEST],
        "missing_channel_dim--passed--input_without_channel_then_fixed.ipynb": [
            markdown("# Fashion-MNIST CNN\n\nThe first try gives the images no channel axis; "
                     "the student fixes it in the next cell."),
            FASHION_DATA, no_channel,
            markdown("The error says the convolution wants 4 axes: add the channel."),
            FASHION_MODEL, FASHION_TRAIN, FASHION_EVALUATE, FASHION_TEST,
        ],
        "legacy_save_format--passed--save_without_extension.ipynb": fashion_with_cell(code("""
            model.save('my_model')
        """), "Keras 2's SavedModel folder: `model.save('my_model')`."),
        "legacy_load_format--passed--load_model_folder.ipynb": fashion_with_cell(code("""
            reloaded = keras.models.load_model('my_model')
        """), "Keras 2's SavedModel folder, loaded: `keras.models.load_model('my_model')`."),
        "compile_positional_metrics--passed--compile_positional_accuracy.ipynb": [
            markdown("# Fashion-MNIST CNN\n\nSeed 004's `compile('Adam', loss, 'accuracy')`: "
                     "the third positional argument is `loss_weights` in Keras 3."),
            FASHION_DATA, FASHION_MODEL,
            code("""
                model.compile('adam', 'sparse_categorical_crossentropy', 'accuracy')
                history = model.fit(train_scaled, train_target, epochs=1,
                                    validation_data=(val_scaled, val_target))
            """),
            FASHION_PREDICT,
        ],
        "metrics_not_list--passed--metrics_string.ipynb": [
            markdown("# Fashion-MNIST CNN\n\nSeeds 000/001: `metrics='accuracy'`."),
            FASHION_DATA, FASHION_MODEL,
            swap(FASHION_TRAIN, "metrics=['accuracy']", "metrics='accuracy'"),
            FASHION_PREDICT,
        ],
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
        "hard_coded_count--passed--reshape_12000_test_images.ipynb": fashion_with_model(
            FASHION_MODEL, "The 10,000 test images reshaped as 12,000.")[:-1] + [
            swap(FASHION_TEST, "reshape(-1, 28, 28, 1)", "reshape(12000, 28, 28, 1)")],
        "runtime_error--passed--reshape_29x29.ipynb": fashion_with_model(
            FASHION_MODEL, "The test images are reshaped to the wrong size.")[:-1] + [
            swap(FASHION_TEST, "reshape(-1, 28, 28, 1)", "reshape(-1, 29, 29, 1)")],
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
            "A BatchNormalization after the first convolution: no other layer changes."),
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
            markdown("# Fashion-MNIST CNN\n\nFive outputs for ten classes. Not trained: "
                     "labels 5 to 9 would make the loss fail."),
            FASHION_DATA,
            swap(FASHION_MODEL, "Dense(10, activation='softmax')", "Dense(5, activation='softmax')"),
            code("""
                model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
                              metrics=['accuracy'])
                print(model.predict(val_scaled[:5]).shape)
            """),
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
        markdown(f"# Fashion-MNIST CNN\n\n{title} The CNN is built (untrained) before it."),
        code("from tensorflow import keras"),
        FASHION_MODEL,
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
    load_sub_input_layer = tf.keras.Input((32, 32, 3))
    flat_layer = tf.keras.layers.Flatten()(load_shared_model(load_sub_input_layer))
    load_sub_output_layer = tf.keras.layers.Dense(n_sub, activation='softmax')(flat_layer)
    load_sub_model = tf.keras.models.Model(load_sub_input_layer, load_sub_output_layer)
    load_sub_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    history_sub = load_sub_model.fit(train, tf.keras.utils.to_categorical(tr_sub_y, n_sub),
                                     batch_size=200, epochs=1)
""")


def transfer_notebook(title: str, strided=(TRANSFER_STRIDED, TRANSFER_STRIDED_FIT),
                      extra_after_strided=(), before_data=()) -> list[tuple[str, str]]:
    return [
        markdown(f"## Week10. Convolutional Neural Network\n\n{title}"),
        *before_data,
        TRANSFER_DATA,
        markdown("## 1. Tensorflow - Convolution layer"),
        TRANSFER_CONV,
        markdown("## 2. Tensorflow - Pooling layer"),
        *strided,
        *extra_after_strided,
        markdown("## 3. Transfer learning"),
        TRANSFER_EXTRACTOR, TRANSFER_CLASSIFIER, TRANSFER_SAVE, TRANSFER_LOAD, TRANSFER_FINE,
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
            "and a fine-class head on the reloaded extractor."),
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
    return {
        "clean--passed--correct.ipynb": [title, data, dense, cnn, activations],
        "clean--passed--tf_nn_activations.ipynb": [title, data, tf_nn, cnn, activations],
        "attribute_typo--passed--keras_model_module.ipynb": [title, data, dense, cnn, typo],
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
    return {
        "clean--passed--correct.ipynb": [
            markdown("# Pooling experiments\n\nAverage pooling (3x3) against max pooling (2x2)."),
            FASHION_DATA, average, FASHION_TRAIN, FASHION_EVALUATE, maximum,
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
    }


# --- modules --------------------------------------------------------------------------------

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
    "mnist_models/clean--passed--correct_module.py": '''
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
    ''',
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
    """The correct fashion_cnn CNN, untrained, saved with model.save (the reference builder)."""
    target = HERE / "fashion_cnn" / "clean--passed--saved_model.keras"
    if target.exists() and not force:
        return
    sys.path.insert(0, str(HERE.parents[1]))
    import keras

    from grader.resources import load_reference_module

    keras.utils.set_random_seed(0)
    load_reference_module("fashion_cnn").build_cnn().save(target)
    print(f"wrote {target.relative_to(HERE)}")


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
