"""classify_error on the error texts Keras 3.15 (TensorFlow 2.21) really raises.

Every evalue below was recorded by running the snippet in its comment under the installed
Keras (and tf-keras 2.21, for one Keras given the other's objects), except where a comment says it comes from TF 2 (a seed notebook's output) or from the
Keras source. The tests are pure: no TensorFlow, and they assert on codes and fields only.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from grader.checks import errors
from grader.checks.errors import classify_error, explain_errors, one_line
from grader.checks.execution import check_execution
from grader.diagnoses import CATALOGUE, KERAS_2_MODE_NOTE, where_in_cell
from grader.evidence import CellError, CellRun, Evidence, strip_ansi
from grader.exercises import CheckSpec
from grader.layers import LayerTable
from grader.shapes import TraceStep

# --- Real error texts (Keras 3.15, TensorFlow 2.21, Python 3.11) ---------------------------
# model.fit(x, y, epoch=1)
FIT_EPOCH = "TensorFlowTrainer.fit() got an unexpected keyword argument 'epoch'"
# model.evaluate(x, y, batchsize=4)
EVALUATE_BATCHSIZE = "Arguments not recognized: {'batchsize': 4}"
# model.predict(x, batchsize=4)
PREDICT_BATCHSIZE = "TensorFlowTrainer.predict() got an unexpected keyword argument 'batchsize'"
# model.compile(optimizer='adam', loss='mse', metric=['accuracy'])
COMPILE_METRIC = "Trainer.compile() got an unexpected keyword argument 'metric'"
# tf.keras.models.Model(input=m.inputs, outputs=m.outputs)
MODEL_INPUT = (
    "Unrecognized keyword arguments passed to Model: {'input': [<KerasTensor shape=(None, 28, 28, 1), "
    "dtype=float32, sparse=False, ragged=False, name=keras_tensor>], 'outputs': [<KerasTensor "
    "shape=(None, 10), dtype=float32, sparse=False, ragged=False, name=keras_tensor_3>]}"
)
# keras.optimizers.Adam(lr=0.01)
ADAM_LR = "Argument(s) not recognized: {'lr': 0.01}"
# keras.layers.Dense(10, activations='relu')
DENSE_ACTIVATIONS = "Unrecognized keyword arguments passed to Dense: {'activations': 'relu'}"
# model.evaluate(x, y, 4, 0, None, None, None, False, 5)
EVALUATE_POSITIONAL = "TensorFlowTrainer.evaluate() takes from 1 to 9 positional arguments but 10 were given"
# model.evalutions(x, y)
EVALUTIONS = "'Sequential' object has no attribute 'evalutions'"
EVALUTE = "'Sequential' object has no attribute 'evalute'"
# tf.keras.model.Model / keras.model.Model
TF_KERAS_MODEL = "module 'keras._tf_keras.keras' has no attribute 'model'"
KERAS_MODEL = "module 'keras' has no attribute 'model'"
# tf.keras.layer.Dense, tf.keras.layers.Conv2d, keras.layers.Conv2d, tf.keras.dataset, tf.kears
TF_KERAS_LAYER = "module 'keras._tf_keras.keras' has no attribute 'layer'"
TF_CONV2D_CASE = "module 'keras._tf_keras.keras.layers' has no attribute 'Conv2d'"
KERAS_CONV2D_CASE = "module 'keras.layers' has no attribute 'Conv2d'"
TF_KERAS_DATASET = "module 'keras._tf_keras.keras' has no attribute 'dataset'"
TF_KEARS = "module 'tensorflow' has no attribute 'kears'"
NP_ARRANGE = "module 'numpy' has no attribute 'arrange'"
HISTORY_TYPO = "'History' object has no attribute 'histroy'"
# (model.predict(test).argmax(1) == labels).mean() in seed 004, after numpy gave up comparing
BOOL_MEAN = "'bool' object has no attribute 'mean'"
# model.input / model.output on a Sequential model built with keras.Input, even after fit
SEQUENTIAL_INPUT = "The layer sequential has never been called and thus has no defined input."
SEQUENTIAL_OUTPUT = "The layer sequential has never been called and thus has no defined output."
# model.layers[0].output_shape, .input_shape; model.predict_classes(x); model.fit_generator
LAYER_OUTPUT_SHAPE = "'Conv2D' object has no attribute 'output_shape'"
LAYER_INPUT_SHAPE = "'Conv2D' object has no attribute 'input_shape'"
PREDICT_CLASSES = "'Sequential' object has no attribute 'predict_classes'"
FIT_GENERATOR = "'Sequential' object has no attribute 'fit_generator'"
# keras.Sequential([keras.layers.Dense(3)]).output_shape, before the model is built
UNBUILT_OUTPUT_SHAPE = "Sequential model 'sequential_3' has no defined output shape yet."
# from keras.utils import np_utils; tf.keras.layers.experimental.preprocessing.Rescaling
NP_UTILS = ("cannot import name 'np_utils' from 'keras.utils' "
            "(/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/keras/utils/__init__.py)")
TF_EXPERIMENTAL = "module 'keras._tf_keras.keras.layers' has no attribute 'experimental'"
# from keras.layers import Conv2Dx
CONV2DX = ("cannot import name 'Conv2Dx' from 'keras.layers' "
           "(/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/keras/layers/__init__.py)")
# model.compile(optimizer='adam', loss='mse', metrics='accuracy')
METRICS_STRING = ("Expected `metrics` argument to be a list, tuple, or dict. Received instead: "
                  "metrics=accuracy of type <class 'str'>")
# model.compile('Adam', 'categorical_crossentropy', 'accuracy'): Keras 3.15 fails at compile
COMPILE_POSITIONAL = (
    "Expected `loss_weights` argument to be a float (single output case) or a list, tuple, or "
    "dict (multiple output case). Received instead: loss_weights=accuracy of type <class 'str'>"
)
# A list as third positional argument passes compile and fails at fit; the text is built by
# keras/src/backend/common/dtypes.py: f"{dtype=} is not a valid dtype for Keras type promotion."
COMPILE_POSITIONAL_AT_FIT = "dtype='string' is not a valid dtype for Keras type promotion."
# model.fit(x, np.array(['a'] * 8)): string labels, a different mistake
STRING_LABELS = "Invalid dtype: str32"
# np.load('10_train.npy'); pd.read_csv('10_tr_labels.csv'); keras.models.load_model('nothing.h5')
NP_LOAD = "[Errno 2] No such file or directory: '10_train.npy'"
READ_CSV = "[Errno 2] No such file or directory: '10_tr_labels.csv'"
H5_MISSING = ("[Errno 2] Unable to synchronously open file (unable to open file: name = 'nothing.h5', "
              "errno = 2, error message = 'No such file or directory', flags = 0, o_flags = 0)")
# keras.utils.get_file(...) and keras.datasets.cifar100.load_data() without network
GET_FILE = ("URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz: "
            "None -- [Errno -2] Name or service not known")
CIFAR100 = ("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz: None -- "
            "[Errno -2] Name or service not known")
# subprocess.run('wget -q https://example.com/data.zip', shell=True, check=True)
WGET = "Command 'wget -q https://example.com/data.zip' returned non-zero exit status 4."
# model.save('shared_model'); keras.models.load_model('shared_model')
SAVE_FOLDER = (
    "Invalid filepath extension for saving. Please add either a `.keras` extension for the native "
    "Keras format (recommended) or a `.h5` extension. Use `model.export(filepath)` if you want to "
    "export a SavedModel for use with TFLite/TFServing/etc. Received: filepath=shared_model."
)
LOAD_FOLDER = (
    "File format not supported: filepath=shared_model. Keras 3 only supports V3 `.keras` files, "
    "legacy H5 format files (`.h5` extension). Note that the legacy SavedModel format is not "
    "supported by `load_model()` in Keras 3. In order to reload a TensorFlow SavedModel as an "
    "inference-only layer in Keras 3, use `keras.layers.TFSMLayer(shared_model, "
    "call_endpoint='serving_default')` (note that your `call_endpoint` might have a different name)."
)
# Seed 004's model_pool (Input 32x32x3, 4 x [Conv2D(64, 3, strides=2, same), BN, relu, MaxPool2D]):
# Keras 3 raises at model.add, with ANSI bold around the sentence that matters.
POOL_COLLAPSE = (
    "Exception encountered when calling MaxPooling2D.call().\n\n\x1b[1mComputed output size would "
    "be zero or negative. Received: `inputs.shape=[None 1 1 64]`, `pool_size=[2 2]`, `strides=(2, 2)`, "
    "`padding=valid`.\x1b[0m\n\nArguments received by MaxPooling2D.call():\n  \u2022 args=('<KerasTensor "
    "shape=(None, 1, 1, 64), dtype=float32, sparse=False, ragged=False, name=keras_tensor_97>',)\n"
    "  \u2022 kwargs=<class 'inspect._empty'>"
)
# keras.Sequential([keras.Input((4, 4, 3)), keras.layers.MaxPooling2D(2), keras.layers.Conv2D(4, 3)])
CONV_COLLAPSE = (
    "Computed output size would be zero or negative. Received `inputs shape=(None, 2, 2, 3)`, "
    "`kernel shape=(3, 3, 3, 4)`, `dilation_rate=[1 1]`, `strides=(1, 1)`, `padding=valid`."
)
# The same model under TF 2 (seed 004's recorded output)
TF2_POOL_COLLAPSE = (
    "Negative dimension size caused by subtracting 2 from 1 for '{{node max_pooling2d_27/MaxPool}} = "
    "MaxPool[T=DT_FLOAT, data_format=\"NHWC\", ksize=[1, 2, 2, 1], padding=\"VALID\", "
    "strides=[1, 2, 2, 1]](activation_39/Relu)' with input shapes: [?,1,1,64]."
)
# TF 2's wording for a convolution on a 2x2 map (same format, written by hand)
TF2_CONV_COLLAPSE = (
    "Negative dimension size caused by subtracting 3 from 2 for '{{node conv2d_3/Conv2D}} = "
    "Conv2D[T=DT_FLOAT, data_format=\"NHWC\", dilations=[1, 1, 1, 1], explicit_paddings=[], "
    "padding=\"VALID\", strides=[1, 1, 1, 1], use_cudnn_on_gpu=true](Placeholder, "
    "conv2d_3/Conv2D/ReadVariableOp)' with input shapes: [?,2,2,64], [3,3,64,32]."
)
# Conv2D(32, (3, 3), input_shape=(28, 28)) at model.add, in a list, or at fit on 28x28 images
CHANNEL_KERAS3 = ("Input 0 with name 'None' of layer 'conv2d_10' is incompatible with the layer: "
                  "expected min_ndim=4, found ndim=3. Full shape received: (None, 28, 28)")
# TF 2.x wording of the same error
CHANNEL_TF2 = ('Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, '
               "found ndim=3. Full shape received: (None, 28, 28)")
# Dense on a 1-D input: not a channel problem
DENSE_NDIM = ('Input 0 of layer "dense" is incompatible with the layer: expected min_ndim=2, '
              "found ndim=1. Full shape received: (None,)")
# import google.colab; import plotly; from keras.wrappers.scikit_learn import KerasClassifier
COLAB = "No module named 'google.colab'"
PLOTLY = "No module named 'plotly'"
KERAS_WRAPPERS = "No module named 'keras.wrappers.scikit_learn'"
# IPython's text for `x = (1,` (its traceback says "Cell In[1], line 1"); compile() for the others
SYNTAX_IPYTHON = "'(' was never closed (<ipython-input-1-9a50e4343796>, line 1)"
SYNTAX_COLON = "expected ':' (<cell>, line 1)"
INDENTATION = "expected an indented block after function definition on line 1 (<cell>, line 2)"
# One Keras given the other's objects: Keras 3.15 and tf-keras 2.21 (Keras 2) in one process.
# keras.Sequential([keras.Input((4,)), tf_keras.layers.Dense(3)]), and the same with model.add
KERAS3_SEQUENTIAL_TF_KERAS_DENSE = (
    "Only instances of `keras.Layer` can be added to a Sequential model. Received: "
    "<tf_keras.src.layers.core.dense.Dense object at 0x7fda4e0fd190> (of type "
    "<class 'tf_keras.src.layers.core.dense.Dense'>)")
# tf_keras.Sequential([keras.layers.Dense(3)]), and the same with a Keras 3 model as a layer
TF_KERAS_SEQUENTIAL_KERAS3_DENSE = (
    "The added layer must be an instance of class Layer. Received: layer=<Dense name=dense, "
    "built=False> of type <class 'keras.src.layers.core.dense.Dense'>.")
TF_KERAS_SEQUENTIAL_KERAS3_MODEL = (
    "The added layer must be an instance of class Layer. Received: layer=<Functional name=functional, "
    "built=True> of type <class 'keras.src.models.functional.Functional'>.")
# keras.Sequential(...).compile(optimizer=tf_keras.optimizers.Adam(), loss='mse'), and the reverse
KERAS3_COMPILE_TF_KERAS_ADAM = ("Could not interpret optimizer identifier: "
                                "<tf_keras.src.optimizers.adam.Adam object at 0x7fda4d7c1150>")
TF_KERAS_COMPILE_KERAS3_ADAM = ("Could not interpret optimizer identifier: "
                                "<keras.src.optimizers.adam.Adam object at 0x7fae9b2565d0>")
# x = tf_keras.Input((4,)); keras.Model(x, keras.layers.Dense(3)(x))
KERAS3_MODEL_TF_KERAS_TENSOR = (
    "All `inputs` values must be KerasTensors. Received: inputs=KerasTensor(type_spec=TensorSpec("
    "shape=(None, 4), dtype=tf.float32, name='input_1'), name='input_1', description=\"created by layer "
    "'input_1'\") including invalid value KerasTensor(type_spec=TensorSpec(shape=(None, 4), "
    "dtype=tf.float32, name='input_1'), name='input_1', description=\"created by layer 'input_1'\") of "
    "type <class 'tf_keras.src.engine.keras_tensor.KerasTensor'>")
# tf_keras.layers.Dense(3)(keras.Input((4,))): tf-keras reads the Keras 3 tensor's shape
TF_KERAS_LAYER_ON_KERAS3_TENSOR = "'tuple' object has no attribute 'rank'"
# keras.Sequential([keras.Input((4,)), lambda x: x]); keras.Sequential().compile(optimizer='adamm')
KERAS3_SEQUENTIAL_FUNCTION = (
    "Only instances of `keras.Layer` can be added to a Sequential model. Received: <function "
    "<lambda>.<locals>.<lambda> at 0x7f0dc935f240> (of type <class 'function'>)")
UNKNOWN_OPTIMIZER = "Could not interpret optimizer identifier: adamm"

# --- Seed notebook cells ---------------------------------------------------------------------
SEED_002_FIT = """\
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.summary()
model.fit(training_images, training_labels, epoch=5)
test_loss = model.evalutions(test_images, test_labels)
"""
SEED_002_ACTIVATIONS = """\
from tensorflow.keras import models
layer_outputs = [ layer.output for layer in model.layers ]
activation_model = tf.keras.model.Model(input= model.input, outputs = layer_outputs)
"""
SEED_000_FEATURE_MAP = """\
print(model.input)
conv_acti = keras.Model(model.input, model.layers[0].output) # functional API
"""
SEED_004_LOAD = """\
train = np.load('10_train.npy')
test = np.load('10_test.npy')
"""
SEED_004_LABELS = """\
train_labels = pd.read_csv('10_tr_labels.csv')
test_labels = pd.read_csv('10_ts_labels.csv')
"""
SEED_004_PLOTLY = """\
from plotly import graph_objs as go
from plotly.offline import iplot
from plotly import express as px
"""
SEED_004_COMPILE = """\
%%time
model.compile('Adam','categorical_crossentropy', 'accuracy')
history = model.fit(train,
                   tf.keras.utils.to_categorical(tr_super_y),
                   batch_size=200, epochs=20,
                   )
"""
SEED_004_POOL = """\
%%time
model_pool = tf.keras.Sequential()
model_pool.add(tf.keras.Input((32,32,3)))
for n in range(4):
    model_pool.add(tf.keras.layers.Conv2D(filters=2**6,kernel_size=3,strides=2,padding='same'))
    model_pool.add(tf.keras.layers.BatchNormalization())
    model_pool.add(tf.keras.layers.Activation('relu'))
    model_pool.add(tf.keras.layers.MaxPool2D())
"""
SEED_004_EVALUATE = """\
print(f'Except pooling model : {(model.predict(test).argmax(1)==ts_super_y).mean()*100:.5}%')
print(f'Add pooling model : {(model_pool.predict(test).argmax(1)==ts_super_y).mean()*100:.5}%')
"""
SEED_004_SAVE = "shared_model.save('shared_model')\n"
SEED_004_RELOAD = "load_shared_model=tf.keras.models.load_model('shared_model')\n\nload_shared_model.summary()\n"
COLAB_CELL = "from google.colab import drive\ndrive.mount('/content/drive')\n"
MIXED_DENSE_CELL = """\
import keras
from tf_keras.layers import Dense

model = keras.Sequential()
model.add(keras.Input((28, 28, 1)))
model.add(keras.layers.Flatten())
model.add(Dense(100, activation='relu'))
"""
MIXED_CALL_CELL = """\
import keras
import tf_keras

inputs = keras.Input((28, 28, 1))
x = keras.layers.Flatten()(inputs)
x = tf_keras.layers.Dense(100, activation='relu')(x)
"""

# The seed model's trace: 32 -conv-> 16 -pool-> 8 -conv-> 4 -pool-> 2 -conv-> 1 -pool-> 0.
SEED_004_TRACE = tuple(
    TraceStep(name, class_name, (size, size), (out, out), window, (2, 2), padding)
    for name, class_name, size, out, window, padding in (
        ("conv2d", "Conv2D", 32, 16, (3, 3), "same"),
        ("max_pooling2d", "MaxPooling2D", 16, 8, (2, 2), "valid"),
        ("conv2d_1", "Conv2D", 8, 4, (3, 3), "same"),
        ("max_pooling2d_1", "MaxPooling2D", 4, 2, (2, 2), "valid"),
        ("conv2d_2", "Conv2D", 2, 1, (3, 3), "same"),
        ("max_pooling2d_2", "MaxPooling2D", 1, 0, (2, 2), "valid"),
    )
)
SEED_004_TABLE = LayerTable("sequential", "Sequential", (None, 32, 32, 3), (), SEED_004_TRACE)
HEALTHY_TABLE = LayerTable("other", "Sequential", (None, 32, 32, 3), (), SEED_004_TRACE[:2])


def failing(ename: str, evalue: str, source: str = "", line: int | None = None, cell: int = 4) -> CellRun:
    return CellRun(cell=cell, source=source, status="error", error=CellError(ename, evalue, "", line))


# (ename, evalue, source, runner's line, expected code, expected fields)
CASES = {
    # syntax_error
    "syntax-ipython": ("SyntaxError", SYNTAX_IPYTHON, "x = (1,\ny = 2\n", 1, "syntax_error",
                       {"error": "'(' was never closed", "line": 1}),
    "syntax-line-from-text": ("SyntaxError", SYNTAX_COLON, "for i in range(3)\n  pass\n", None,
                              "syntax_error", {"error": "expected ':'", "line": 1}),
    "syntax-line-from-runner": ("SyntaxError", "invalid syntax", "a = 1\nb = 2\nc = = 3\n", 3,
                                "syntax_error", {"error": "invalid syntax", "line": 3}),
    "syntax-line-from-compile": ("SyntaxError", "invalid syntax", "a = 1\nc = = 3\n", None,
                                 "syntax_error", {"line": 2}),
    "indentation": ("IndentationError", INDENTATION, "def f():\nreturn 1\n", None, "syntax_error",
                    {"error": "expected an indented block after function definition on line 1", "line": 2}),
    # name_error
    "name-false-seed-002": ("NameError", "name 'false' is not defined", "axarr[0, x].grid(false)\n", 1,
                            "name_error", {"name": "false", "suggestion": " (did you mean `False`?)"}),
    "name-typo-in-cell": ("NameError", "name 'train_imges' is not defined",
                          "train_images = x / 255.0\nmodel.fit(train_imges, y)\n", 2, "name_error",
                          {"name": "train_imges", "suggestion": " (did you mean `train_images`?)"}),
    "name-unknown": ("NameError", "name 'qqq' is not defined", "print(qqq)\n", 1, "name_error",
                     {"name": "qqq", "suggestion": ""}),
    # attribute_typo
    "evalutions-seed-002": ("AttributeError", EVALUTIONS, SEED_002_FIT, 4, "attribute_typo",
                            {"owner": "model", "attribute": "evalutions", "suggestion": "evaluate"}),
    "evalute": ("AttributeError", EVALUTE, "model.evalute(x_test, y_test)\n", 1, "attribute_typo",
                {"owner": "model", "attribute": "evalute", "suggestion": "evaluate"}),
    "tf-keras-model-seed-002": ("AttributeError", TF_KERAS_MODEL, SEED_002_ACTIVATIONS, 3,
                                "attribute_typo",
                                {"owner": "tf.keras", "attribute": "model", "suggestion": "models"}),
    "keras-model-no-source": ("AttributeError", KERAS_MODEL, "", None, "attribute_typo",
                              {"owner": "keras", "attribute": "model", "suggestion": "models"}),
    "tf-keras-layer": ("AttributeError", TF_KERAS_LAYER, "x = tf.keras.layer.Dense(3)\n", 1,
                       "attribute_typo", {"owner": "tf.keras", "suggestion": "layers"}),
    "conv2d-case-tf": ("AttributeError", TF_CONV2D_CASE, "tf.keras.layers.Conv2d(32, 3)\n", 1,
                       "attribute_typo", {"owner": "tf.keras.layers", "suggestion": "Conv2D"}),
    "conv2d-case-keras-no-source": ("AttributeError", KERAS_CONV2D_CASE, "", None, "attribute_typo",
                                    {"owner": "keras.layers", "suggestion": "Conv2D"}),
    "tf-keras-dataset": ("AttributeError", TF_KERAS_DATASET, "d = tf.keras.dataset.mnist\n", 1,
                         "attribute_typo", {"owner": "tf.keras", "suggestion": "datasets"}),
    "tf-kears": ("AttributeError", TF_KEARS, "m = tf.kears.Sequential()\n", 1, "attribute_typo",
                 {"owner": "tf", "suggestion": "keras"}),
    "np-arrange": ("AttributeError", NP_ARRANGE, "x = np.arrange(10)\n", 1, "attribute_typo",
                   {"owner": "np", "suggestion": "arange"}),
    "history-typo": ("AttributeError", HISTORY_TYPO, "plt.plot(history.histroy['loss'])\n", 1,
                     "attribute_typo", {"owner": "history", "suggestion": "history"}),
    "import-name-typo": ("ImportError", CONV2DX, "from keras.layers import Conv2Dx\n", 1,
                         "attribute_typo", {"owner": "keras.layers", "attribute": "Conv2Dx",
                                            "suggestion": "Conv2D"}),
    # removed_api
    "layer-output-shape": ("AttributeError", LAYER_OUTPUT_SHAPE, "print(model.layers[0].output_shape)\n",
                           1, "removed_api", {"old": "model.layers[0].output_shape",
                                              "new": "model.layers[0].output.shape"}),
    "layer-input-shape": ("AttributeError", LAYER_INPUT_SHAPE, "conv = model.layers[0]\nconv.input_shape\n",
                          2, "removed_api", {"old": "conv.input_shape", "new": "conv.input.shape"}),
    "predict-classes": ("AttributeError", PREDICT_CLASSES, "y_pred = model.predict_classes(x_test)\n", 1,
                        "removed_api", {"old": "model.predict_classes",
                                        "new": "model.predict(x).argmax(axis=-1)"}),
    "fit-generator": ("AttributeError", FIT_GENERATOR, "model.fit_generator(gen, epochs=3)\n", 1,
                      "removed_api", {"old": "model.fit_generator", "new": "model.fit"}),
    "np-utils": ("ImportError", NP_UTILS, "from keras.utils import np_utils\n", 1, "removed_api",
                 {"old": "keras.utils.np_utils", "new": "keras.utils.to_categorical"}),
    "experimental-preprocessing": ("AttributeError", TF_EXPERIMENTAL,
                                   "rescale = tf.keras.layers.experimental.preprocessing.Rescaling(1./255)\n",
                                   1, "removed_api",
                                   {"old": "tf.keras.layers.experimental.preprocessing.Rescaling",
                                    "new": "tf.keras.layers.Rescaling"}),
    # sequential_input_undefined
    "model-input-seed-000": ("AttributeError", SEQUENTIAL_INPUT, SEED_000_FEATURE_MAP, 1,
                             "sequential_input_undefined",
                             {"expression": "model.input", "replacement": "model.inputs"}),
    "model-output": ("AttributeError", SEQUENTIAL_OUTPUT, "out = cnn.output\n", 1,
                     "sequential_input_undefined", {"expression": "cnn.output", "replacement": "cnn.outputs"}),
    "model-output-next-to-layer-output": ("AttributeError", SEQUENTIAL_OUTPUT,
                                          "m = keras.Model(cnn.layers[0].input, cnn.layers[0].output)\n"
                                          "probe = keras.Model(cnn.inputs, cnn.output)\n", 2,
                                          "sequential_input_undefined",
                                          {"expression": "cnn.output", "replacement": "cnn.outputs"}),
    "model-input-no-source": ("AttributeError", SEQUENTIAL_INPUT, "", None, "sequential_input_undefined",
                              {"expression": "model.input", "replacement": "model.inputs"}),
    # unknown_fit_argument
    "fit-epoch-seed-002": ("TypeError", FIT_EPOCH, SEED_002_FIT, 3, "unknown_fit_argument",
                           {"function": "fit", "argument": "epoch"}),
    "evaluate-batchsize": ("ValueError", EVALUATE_BATCHSIZE, "model.evaluate(x_test, y_test, batchsize=4)\n",
                           1, "unknown_fit_argument", {"function": "evaluate", "argument": "batchsize"}),
    "predict-batchsize": ("TypeError", PREDICT_BATCHSIZE, "p = model.predict(x_test, batchsize=4)\n", 1,
                          "unknown_fit_argument", {"function": "predict", "argument": "batchsize"}),
    "compile-metric": ("TypeError", COMPILE_METRIC,
                       "model.compile(optimizer='adam', loss='mse', metric=['accuracy'])\n", 1,
                       "unknown_fit_argument", {"function": "compile", "argument": "metric"}),
    "model-input-keyword": ("ValueError", MODEL_INPUT,
                            "activation_model = tf.keras.models.Model(input=model.inputs, outputs=layer_outputs)\n",
                            1, "unknown_fit_argument", {"function": "Model", "argument": "input"}),
    "adam-lr": ("ValueError", ADAM_LR, "opt = tf.keras.optimizers.Adam(lr=0.01)\n", 1,
                "unknown_fit_argument", {"function": "Adam", "argument": "lr"}),
    "dense-activations": ("ValueError", DENSE_ACTIVATIONS, "d = keras.layers.Dense(10, activations='relu')\n",
                          1, "unknown_fit_argument", {"function": "Dense", "argument": "activations"}),
    "fit-epoch-no-source": ("TypeError", FIT_EPOCH, "", None, "unknown_fit_argument",
                            {"function": "fit", "argument": "epoch"}),
    # missing_channel_dim
    "channel-keras3": ("ValueError", CHANNEL_KERAS3,
                       "model.add(tf.keras.layers.Conv2D(32, (3, 3), input_shape=(28, 28)))\n", 1,
                       "missing_channel_dim", {"found": 3}),
    "channel-tf2": ("ValueError", CHANNEL_TF2, "model.fit(x_train, y_train, epochs=5)\n", 1,
                    "missing_channel_dim", {"found": 3}),
    # legacy_save_format
    "save-folder-seed-004": ("ValueError", SAVE_FOLDER, SEED_004_SAVE, 1, "legacy_save_format",
                             {"path": "shared_model", "suggested": "shared_model.keras"}),
    "save-folder-no-source": ("ValueError", SAVE_FOLDER, "", None, "legacy_save_format",
                              {"path": "shared_model", "suggested": "shared_model.keras"}),
    "save-tf-extension": ("ValueError", SAVE_FOLDER.replace("shared_model.", "model.tf."),
                          "model.save('model.tf')\n", 1, "legacy_save_format",
                          {"path": "model.tf", "suggested": "model.keras"}),
    # compile_positional_metrics
    "compile-positional-seed-004": ("ValueError", COMPILE_POSITIONAL, SEED_004_COMPILE, 2,
                                    "compile_positional_metrics",
                                    {"args": "'Adam', 'categorical_crossentropy', 'accuracy'",
                                     "value": "accuracy", "optimizer": "Adam",
                                     "loss": "categorical_crossentropy"}),
    "compile-positional-list-at-fit": ("ValueError", COMPILE_POSITIONAL_AT_FIT,
                                       "model.compile('rmsprop', 'mse', ['accuracy'])\nmodel.fit(x, y)\n", 2,
                                       "compile_positional_metrics",
                                       {"value": ["accuracy"], "optimizer": "rmsprop", "loss": "mse"}),
    "compile-positional-fit-cell-only": ("ValueError", COMPILE_POSITIONAL_AT_FIT,
                                         "history = model.fit(x, y, epochs=3)\n", 1,
                                         "compile_positional_metrics",
                                         {"value": "accuracy", "optimizer": "adam", "loss": "..."}),
    "compile-positional-expression": ("ValueError", COMPILE_POSITIONAL,
                                      "model.compile(keras.optimizers.Adam(1e-3), loss_fn, 'accuracy')\n", 1,
                                      "compile_positional_metrics",
                                      {"optimizer": "keras.optimizers.Adam(0.001)", "loss": "loss_fn"}),
    # metrics_not_list
    "metrics-string": ("ValueError", METRICS_STRING,
                       "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics='acc')\n",
                       1, "metrics_not_list", {"value": "acc"}),
    "metrics-string-no-source": ("ValueError", METRICS_STRING, "", None, "metrics_not_list",
                                 {"value": "accuracy"}),
    # missing_module
    "colab": ("ModuleNotFoundError", COLAB, COLAB_CELL, 1, "missing_module", {"module": "google.colab"}),
    "plotly-seed-004": ("ModuleNotFoundError", PLOTLY, SEED_004_PLOTLY, 1, "missing_module",
                        {"module": "plotly"}),
    "keras-wrappers": ("ModuleNotFoundError", KERAS_WRAPPERS,
                       "from keras.wrappers.scikit_learn import KerasClassifier\n", 1, "missing_module",
                       {"module": "keras.wrappers.scikit_learn"}),
    # data_unavailable
    "np-load-seed-004": ("FileNotFoundError", NP_LOAD, SEED_004_LOAD, 1, "data_unavailable",
                         {"path": "10_train.npy"}),
    "read-csv-seed-004": ("FileNotFoundError", READ_CSV, SEED_004_LABELS, 1, "data_unavailable",
                          {"path": "10_tr_labels.csv"}),
    "h5-missing": ("FileNotFoundError", H5_MISSING, "m = keras.models.load_model('nothing.h5')\n", 1,
                   "data_unavailable", {"path": "nothing.h5"}),
    "wget": ("CalledProcessError", WGET,
             "subprocess.run('wget -q https://example.com/data.zip', shell=True, check=True)\n", 1,
             "data_unavailable", {"path": "https://example.com/data.zip"}),
    # network_unavailable: the network is off where work is graded
    "get-file-offline": ("Exception", GET_FILE, "path = keras.utils.get_file('mnist.npz', URL)\n", 1,
                         "network_unavailable",
                         {"target": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
                          "reason": "no host name can be looked up"}),
    "cifar100-offline": ("Exception", CIFAR100, "(x, y), _ = keras.datasets.cifar100.load_data()\n", 1,
                         "network_unavailable",
                         {"target": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"}),
    "url-error": ("URLError", "<urlopen error [Errno -2] Name or service not known>",
                  "df = pd.read_csv('https://example.com/train.csv')\n", 1, "network_unavailable",
                  {"target": "https://example.com/train.csv", "line": 1}),
    # pooling_collapse without a table: what the message tells
    "pool-collapse-keras3": ("ValueError", POOL_COLLAPSE, SEED_004_POOL, 8, "pooling_collapse",
                             {"class_name": "MaxPooling2D", "size_in": "1x1", "window": "2x2",
                              "size_out": "0x0", "trace": "not known"}),
    "pool-collapse-tf2-seed-004": ("ValueError", TF2_POOL_COLLAPSE, SEED_004_POOL, 8, "pooling_collapse",
                                   {"class_name": "MaxPooling2D", "size_in": "1x1", "window": "2x2",
                                    "size_out": "0x0"}),
    "conv-collapse-keras3": ("ValueError", CONV_COLLAPSE, "", None, "pooling_collapse",
                             {"class_name": "Conv2D", "size_in": "2x2", "window": "3x3", "size_out": "0x0"}),
    "conv-collapse-tf2": ("ValueError", TF2_CONV_COLLAPSE, "", None, "pooling_collapse",
                          {"class_name": "Conv2D", "size_in": "2x2", "window": "3x3", "size_out": "0x0"}),
    "collapse-unparsable": ("ValueError", "Computed output size would be zero or negative.", "", None,
                            "pooling_collapse", {"class_name": "not known", "size_in": "not known",
                                                 "window": "not known", "size_out": "not known"}),
    # mixed_keras (Keras 3 mode, the default)
    "keras3-sequential-tf-keras-dense": ("ValueError", KERAS3_SEQUENTIAL_TF_KERAS_DENSE, MIXED_DENSE_CELL, None,
                                         "mixed_keras",
                                         {"class_name": "Dense", "package": "tf_keras", "version": 2,
                                          "model_package": "keras", "model_version": 3, "keras": 3, "line": 7}),
    "tf-keras-sequential-keras3-dense": ("TypeError", TF_KERAS_SEQUENTIAL_KERAS3_DENSE,
                                         "model = tf_keras.Sequential([keras.layers.Dense(3)])\n", None,
                                         "mixed_keras",
                                         {"class_name": "Dense", "package": "keras", "version": 3,
                                          "model_package": "tf_keras", "model_version": 2, "line": 1}),
    "tf-keras-sequential-keras3-model": ("TypeError", TF_KERAS_SEQUENTIAL_KERAS3_MODEL,
                                         "model = tf_keras.Sequential([base, tf_keras.layers.Dense(3)])\n", 1,
                                         "mixed_keras", {"class_name": "Functional", "package": "keras",
                                                         "model_package": "tf_keras"}),
    "keras3-compile-tf-keras-adam": ("ValueError", KERAS3_COMPILE_TF_KERAS_ADAM,
                                     "model.compile(optimizer=tf_keras.optimizers.Adam(1e-3), loss='mse')\n", 1,
                                     "mixed_keras", {"class_name": "Adam", "package": "tf_keras",
                                                     "model_package": "keras"}),
    "tf-keras-compile-keras3-adam": ("ValueError", TF_KERAS_COMPILE_KERAS3_ADAM,
                                     "opt = tf.keras.optimizers.Adam()\nmodel.compile(optimizer=opt, loss='mse')\n",
                                     None, "mixed_keras",
                                     {"class_name": "Adam", "package": "keras", "model_package": "tf_keras",
                                      "line": 1}),
    "keras3-model-tf-keras-tensor": ("ValueError", KERAS3_MODEL_TF_KERAS_TENSOR, "", None, "mixed_keras",
                                     {"class_name": "KerasTensor", "package": "tf_keras", "model_package": "keras"}),
    "tf-keras-layer-on-keras3-tensor": ("AttributeError", TF_KERAS_LAYER_ON_KERAS3_TENSOR, MIXED_CALL_CELL, None,
                                        "mixed_keras",
                                        {"class_name": "Dense", "package": "tf_keras", "model_package": "keras",
                                         "line": 6}),
    "tuple-rank-one-keras": ("AttributeError", TF_KERAS_LAYER_ON_KERAS3_TENSOR,
                             "x = tf_keras.layers.Dense(100)(inputs)\n", 1, "runtime_error",
                             {"ename": "AttributeError"}),
    "tuple-rank-no-source": ("AttributeError", TF_KERAS_LAYER_ON_KERAS3_TENSOR, "", None, "runtime_error",
                             {"ename": "AttributeError"}),
    "keras3-sequential-function": ("ValueError", KERAS3_SEQUENTIAL_FUNCTION,
                                   "model = keras.Sequential([keras.Input((4,)), lambda x: x])\n", 1,
                                   "runtime_error", {"ename": "ValueError"}),
    "unknown-optimizer": ("ValueError", UNKNOWN_OPTIMIZER, "model.compile(optimizer='adamm', loss='mse')\n", 1,
                          "runtime_error", {"ename": "ValueError"}),
    # runtime_error
    "bool-mean-seed-004": ("AttributeError", BOOL_MEAN, SEED_004_EVALUATE, 2, "runtime_error",
                           {"ename": "AttributeError", "evalue": BOOL_MEAN}),
    "string-labels": ("ValueError", STRING_LABELS, "model.fit(x, labels)\n", 1, "runtime_error",
                      {"ename": "ValueError", "evalue": STRING_LABELS}),
    "load-folder-seed-004": ("ValueError", LOAD_FOLDER, SEED_004_RELOAD, 1, "legacy_load_format",
                             {"path": "shared_model", "suggested": "shared_model.keras"}),
    "unbuilt-output-shape": ("AttributeError", UNBUILT_OUTPUT_SHAPE, "print(model.output_shape)\n", 1,
                             "runtime_error", {"ename": "AttributeError"}),
    "evaluate-positional": ("TypeError", EVALUATE_POSITIONAL, "model.evaluate(x, y, 4, 0, None, None, None, False, 5)\n",
                            1, "runtime_error", {"ename": "TypeError"}),
    "dense-ndim": ("ValueError", DENSE_NDIM, "model.fit(x, y)\n", 1, "runtime_error", {"ename": "ValueError"}),
    "keyboard-interrupt": ("KeyboardInterrupt", "", "model.fit(x, y, epochs=100)\n", 1, "runtime_error",
                           {"ename": "KeyboardInterrupt", "evalue": ""}),
}


@pytest.mark.parametrize(("ename", "evalue", "source", "line", "code", "fields"),
                         list(CASES.values()), ids=list(CASES))
def test_classifies_error(ename, evalue, source, line, code, fields):
    diagnosis = classify_error(failing(ename, evalue, source, line))
    assert diagnosis.code == code
    assert {name: diagnosis.field(name) for name in fields} == fields
    assert diagnosis.cell == 4


@pytest.mark.parametrize(("ename", "evalue", "source", "line", "code", "fields"),
                         list(CASES.values()), ids=list(CASES))
def test_every_diagnosis_renders(ename, evalue, source, line, code, fields):
    diagnosis = classify_error(failing(ename, evalue, source, line))
    assert diagnosis.message and diagnosis.hint
    assert diagnosis.to_json()["code"] == code
    assert diagnosis.detail == f"{ename}: {strip_ansi(evalue)}"
    assert diagnosis.code in CATALOGUE


@pytest.mark.parametrize(("name", "statement"), [
    ("np", "import numpy as np"), ("plt", "import matplotlib.pyplot as plt"),
    ("tf", "import tensorflow as tf"), ("keras", "import keras"), ("pd", "import pandas as pd"),
    ("layers", "from keras import layers"), ("models", "from keras import models"),
    ("train_test_split", "from sklearn.model_selection import train_test_split"),
    ("to_categorical", "from keras.utils import to_categorical"),
    ("Conv2D", "from keras.layers import Conv2D"),
])
def test_name_error_suggests_standard_import(name, statement):
    diagnosis = classify_error(failing("NameError", f"name '{name}' is not defined", f"x = {name}.thing\n", 1))
    assert diagnosis.code == "name_error"
    assert diagnosis.field("name") == name
    assert diagnosis.field("suggestion") == f", e.g. `{statement}`"


@pytest.mark.parametrize(("case", "renamed"), [
    ("fit-epoch-seed-002", "model.fit(training_images, training_labels, epochs=5)"),
    ("evaluate-batchsize", "model.evaluate(x_test, y_test, batch_size=4)"),
    ("predict-batchsize", "model.predict(x_test, batch_size=4)"),
    ("compile-metric", "metrics=['accuracy']"),
    ("model-input-keyword", "tf.keras.models.Model(inputs=model.inputs, outputs=layer_outputs)"),
    ("adam-lr", "tf.keras.optimizers.Adam(learning_rate=0.01)"),
    ("dense-activations", "keras.layers.Dense(10, activation='relu')"),
    ("fit-epoch-no-source", "epochs="),
])
def test_unknown_argument_fix_shows_the_corrected_call(case, renamed):
    ename, evalue, source, line, _, _ = CASES[case]
    assert renamed in classify_error(failing(ename, evalue, source, line)).field("fix")


def test_unknown_argument_without_a_close_name_lists_the_real_ones():
    run = failing("TypeError", "TensorFlowTrainer.fit() got an unexpected keyword argument 'zzz'",
                  "model.fit(x, y, zzz=1)\n", 1)
    fix = classify_error(run).field("fix")
    assert "`zzz=`" in fix and "epochs" in fix and "batch_size" in fix


@pytest.mark.parametrize(("case", "needle"), [
    ("colab", "drive.mount"), ("plotly-seed-004", "matplotlib"), ("keras-wrappers", "from keras import"),
])
def test_missing_module_fix_names_the_remedy(case, needle):
    ename, evalue, source, line, _, _ = CASES[case]
    assert needle in classify_error(failing(ename, evalue, source, line)).field("fix")


def test_pooling_collapse_uses_the_first_collapsing_table():
    run = failing("ValueError", POOL_COLLAPSE, SEED_004_POOL, 8, cell=7)
    diagnosis = classify_error(run, tables=(HEALTHY_TABLE, SEED_004_TABLE))
    assert diagnosis.code == "pooling_collapse"
    assert diagnosis.layer == "max_pooling2d_2"
    fields = {name: diagnosis.field(name) for name in ("class_name", "size_in", "window", "size_out", "trace")}
    assert fields == {
        "class_name": "MaxPooling2D", "size_in": "1x1", "window": "2x2", "size_out": "0x0",
        "trace": "32x32 -conv2d-> 16x16 -max_pooling2d-> 8x8 -conv2d_1-> 4x4 -max_pooling2d_1-> 2x2 "
                 "-conv2d_2-> 1x1 -max_pooling2d_2-> 0x0",
    }
    assert diagnosis.cell == 7


def test_pooling_collapse_from_tf2_text_names_the_layer():
    ename, evalue, source, line, _, _ = CASES["pool-collapse-tf2-seed-004"]
    assert classify_error(failing(ename, evalue, source, line)).layer == "max_pooling2d_27"


@pytest.mark.parametrize(("case", "line"), [
    ("evalutions-seed-002", 4), ("fit-epoch-seed-002", 3), ("compile-positional-seed-004", 2),
    ("tf-keras-model-seed-002", 3), ("np-load-seed-004", 1), ("model-input-seed-000", 1),
    ("syntax-line-from-text", 1), ("save-folder-seed-004", 1), ("plotly-seed-004", 1),
])
def test_line_is_found_in_the_source_when_the_runner_gave_none(case, line):
    ename, evalue, source, _, _, _ = CASES[case]
    diagnosis = classify_error(failing(ename, evalue, source, None))
    assert diagnosis.field("where") == where_in_cell(4, line)


def test_runner_line_wins_over_the_source():
    diagnosis = classify_error(failing("AttributeError", EVALUTIONS, SEED_002_FIT, 2))
    assert diagnosis.field("where") == where_in_cell(4, 2)


def test_module_submission_points_at_the_file():
    run = CellRun(cell=None, source="", status="error",
                  error=CellError("TypeError", FIT_EPOCH, "", 12))
    diagnosis = classify_error(run, file="solution.py")
    assert diagnosis.cell is None
    assert diagnosis.field("where") == where_in_cell(None, 12, "solution.py")


def test_runtime_error_quotes_one_short_line():
    long_text = "Something went wrong in a layer.\n" + "x" * 1000
    diagnosis = classify_error(failing("ValueError", long_text, "model.fit(x, y)\n", 1))
    evalue = diagnosis.field("evalue")
    assert "\n" not in evalue and len(evalue) <= errors.EVALUE_LIMIT
    assert evalue.startswith("Something went wrong in a layer.")
    assert diagnosis.detail == f"ValueError: {long_text}"


# Keras 2 (tf-keras) runs fit in a tf.function: seed 003's flat model fed 28x28 images, under Keras 2 mode
GRAPH_INPUT = (
    'in user code:\n\n'
    '    File "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/tf_keras/src/engine/training.py", '
    'line 1398, in train_function  *\n        return step_function(self, iterator)\n'
    '    File "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/tf_keras/src/engine/input_spec.py", '
    'line 308, in assert_input_compatibility\n        raise ValueError(\n\n'
    '    ValueError: Input 0 of layer "sequential" is incompatible with the layer: expected shape=(None, 784), '
    'found shape=(128, 28, 28)\n')


def test_an_error_raised_inside_keras_2s_fit_is_quoted_without_the_frames_tensorflow_wraps_it_in():
    diagnosis = classify_error(failing("ValueError", GRAPH_INPUT, "model.fit(x_train, y_train)\n", 1))
    assert diagnosis.code == "runtime_error"
    assert diagnosis.field("evalue") == ('Input 0 of layer "sequential" is incompatible with the layer: '
                                         'expected shape=(None, 784), found shape=(128, 28, 28)')
    assert "site-packages" not in diagnosis.detail
    assert errors.unwrapped("in user code: nothing raised after it") == "in user code: nothing raised after it"


def test_one_line_drops_the_keras_call_frame_and_colours():
    assert one_line(POOL_COLLAPSE) == (
        "Computed output size would be zero or negative. Received: `inputs.shape=[None 1 1 64]`, "
        "`pool_size=[2 2]`, `strides=(2, 2)`, `padding=valid`.")


def test_explain_errors_classifies_failing_cells_in_order():
    runs = [
        CellRun(1, "import numpy as np\n", "ok"),
        failing("FileNotFoundError", NP_LOAD, SEED_004_LOAD, 1, cell=2),
        CellRun(3, "while True: pass\n", "timeout", CellError("TimeoutError", "over 60 s")),
        failing("ValueError", POOL_COLLAPSE, SEED_004_POOL, 8, cell=5),
        failing("ValueError", SAVE_FOLDER, SEED_004_SAVE, 1, cell=9),
    ]
    diagnoses = explain_errors(runs, {5: (SEED_004_TABLE,)})
    assert [(d.code, d.cell) for d in diagnoses] == [
        ("data_unavailable", 2), ("pooling_collapse", 5), ("legacy_save_format", 9)]
    assert diagnoses[1].layer == "max_pooling2d_2"


def test_a_cell_without_error_is_our_bug():
    with pytest.raises(ValueError):
        classify_error(CellRun(1, "x = 1\n", "ok"))


def test_checks_module_imports_no_tensorflow():
    tree = ast.parse(Path(errors.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_an_undefined_name_assigned_by_an_earlier_failing_cell_is_its_consequence():
    runs = [
        failing("ValueError", METRICS_STRING,
                "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics='accuracy')\n"
                "history = model.fit(x, y)\n", 1, cell=5),
        failing("NameError", "name 'history' is not defined", "plt.plot(history.history['loss'])\n", 1, cell=6),
        failing("NameError", "name 'other' is not defined", "print(other)\n", 1, cell=7),
    ]
    first, second = explain_errors(runs)
    assert (first.code, first.cell, first.consequences) == ("metrics_not_list", 5, (6,))
    assert (second.code, second.cell, second.consequences) == ("name_error", 7, ())
    assert "cell 6" in first.consequence_note and second.consequence_note is None


def test_consequences_chain_back_to_the_one_root_cause():
    """The learner's notebook: cell 2's reshape fails, cell 3 uses what it was to define, and
    cells 5 and 7 use what cell 3 was to define: one diagnosis, three consequences."""
    runs = [
        failing("ValueError", "cannot reshape array of size 7840000 into shape (60000,784)",
                "x_train = x_train.reshape(60000, 784)\n", 1, cell=2),
        failing("NameError", "name 'x_train' is not defined", "x_small = x_train[:100]\n", 1, cell=3),
        failing("NameError", "name 'x_small' is not defined", "print(x_small.shape)\n", 1, cell=5),
        failing("NameError", "name 'x_train' is not defined", "model.fit(x_train, y)\n", 1, cell=7),
    ]
    (root,) = explain_errors(runs)
    assert (root.code, root.cell, root.consequences) == ("hard_coded_count", 2, (3, 5, 7))
    assert root.to_json()["consequences"] == [3, 5, 7]


@pytest.mark.parametrize("evalue, source, expected", [
    ("cannot reshape array of size 6272000 into shape (60000,28,28,1)",
     "train_images = train_images.reshape((60000, 28, 28, 1))\n", ("hard_coded_count", 60000, "28, 28, 1")),
    ("cannot reshape array of size 7840000 into shape (12000,28,28,1)",
     "x = test_input.reshape(12000, 28, 28, 1)\n", ("hard_coded_count", 12000, "28, 28, 1")),
    # The shape of each image is wrong, not the count: a different diagnosis.
    ("cannot reshape array of size 392000 into shape (29,29,1)", "x = y.reshape(-1, 29, 29, 1)\n",
     ("runtime_error", None, None)),
])
def test_a_hard_coded_number_of_images_is_named(evalue, source, expected):
    diagnosis = classify_error(failing("ValueError", evalue, source, 1))
    assert (diagnosis.code, diagnosis.field("count"), diagnosis.field("rest")) == expected


# --- The Keras mode the run was graded in ------------------------------------------------------

@pytest.mark.parametrize(("ename", "evalue", "source", "fields"), [
    ("TypeError", TF_KERAS_SEQUENTIAL_KERAS3_DENSE, "model = keras.Sequential([keras_3_dense])\n",
     {"class_name": "Dense", "package": "keras", "version": 3, "model_package": "tf_keras", "model_version": 2}),
    ("ValueError", TF_KERAS_COMPILE_KERAS3_ADAM, "model.compile(optimizer=opt, loss='mse')\n",
     {"class_name": "Adam", "package": "keras", "model_package": "tf_keras"}),
], ids=["tf-keras-sequential-keras3-dense", "tf-keras-compile-keras3-adam"])
def test_mixed_keras_in_keras2_mode(ename, evalue, source, fields):
    diagnosis = classify_error(failing(ename, evalue, source, 1), keras=2)
    assert diagnosis.code == "mixed_keras"
    assert {name: diagnosis.field(name) for name in fields} == fields
    assert diagnosis.field("keras") == 2
    assert diagnosis.hint != classify_error(failing(ename, evalue, source, 1)).hint  # each mode its own import


def test_a_tf_keras_layer_on_a_keras_tensor_is_no_mix_in_keras2_mode():
    """In Keras 2 mode `import keras` is tf-keras too: the cell mixes nothing, the error is another one."""
    diagnosis = classify_error(failing("AttributeError", TF_KERAS_LAYER_ON_KERAS3_TENSOR, MIXED_CALL_CELL, 6),
                               keras=2)
    assert diagnosis.code == "runtime_error"


@pytest.mark.parametrize(("value", "mode"), [(2, 2), (3, 3), (None, 3), ("2", 3), (2.0, 3), (True, 3), (1, 3),
                                             ([2], 3)])
def test_anything_but_the_int_2_is_keras3_mode(value, mode):
    assert errors.keras_mode(value) == mode
    diagnosis = classify_error(failing("ValueError", METRICS_STRING, "", None), keras=value)
    assert diagnosis.field("keras") == mode


@pytest.mark.parametrize("case", ["save-folder-seed-004", "load-folder-seed-004", "compile-positional-seed-004",
                                  "metrics-string", "model-input-seed-000", "layer-output-shape"])
def test_a_keras3_migration_hint_offers_keras2_mode_in_keras3_mode_only(case):
    ename, evalue, source, line, code, _ = CASES[case]
    in_keras3 = classify_error(failing(ename, evalue, source, line))
    in_keras2 = classify_error(failing(ename, evalue, source, line), keras=2)
    assert in_keras3.code == in_keras2.code == code
    assert (in_keras3.field("keras"), in_keras2.field("keras")) == (3, 2)
    assert KERAS_2_MODE_NOTE in in_keras3.hint and KERAS_2_MODE_NOTE not in in_keras2.hint


def test_a_diagnosis_whose_hint_is_the_same_in_both_modes_carries_no_mode():
    diagnosis = classify_error(failing("AttributeError", EVALUTE, "model.evalute(x_test, y_test)\n", 1), keras=2)
    assert diagnosis.code == "attribute_typo" and diagnosis.field("keras") is None


def test_explain_errors_and_the_execution_check_pass_the_mode_on():
    run = failing("ValueError", KERAS3_SEQUENTIAL_TF_KERAS_DENSE, MIXED_DENSE_CELL, 7, cell=3)
    assert [d.field("keras") for d in explain_errors([run], keras=2)] == [2]
    check = CheckSpec(id="execution", name="Notebook runs", points=1.0)
    for meta, mode in (({"keras_mode": 2}, 2), ({}, 3), ({"keras_mode": "two"}, 3)):
        result = check_execution(check, Evidence(kind="notebook", cells=(run,), meta=meta), {}, "alice.ipynb")
        assert [(d.code, d.field("keras")) for d in result.diagnoses] == [("mixed_keras", mode)]
