"""Explain a failing cell: map the exception it raised to one catalogued diagnosis.

Keras 3 words many beginner mistakes in ways that do not say what to change (a folder name
passed to `model.save`, `metrics` passed as the third positional argument of `compile`, a
pooling layer on a 1x1 map). Each classifier below recognises one of them from the error text,
with the cell's source (read with `ast`, never run) to fill in what the student wrote. The
first classifier that recognises the error wins; anything else is a `runtime_error` that
quotes the error on one line. Pure: no TensorFlow, no I/O. The error texts are those of
Keras 3.15 under TensorFlow 2.21 (and of TF 2 for the pooling collapse, still common in
notebooks copied from older courses, and of tf-keras 2.21 for a Keras 2 object in a Keras 3
model or the reverse); tests/test_errors.py keeps them as fixtures.

The run's Keras mode (`keras`: 2 under tf-keras, 3 by default) comes in with the error: a
diagnosis whose hint depends on it carries it as its field `keras`, and the catalogue words
the hint for that mode.

The cell's source and its error text are the student's: reading them must not fail, however
large or deeply nested they are. A source nested deeper than any real cell is read as if it did
not parse; the classifiers read only the first `EVALUE_READ_LIMIT` characters of an error, with
expressions that stay linear in its length.
"""

from __future__ import annotations

import ast
import difflib
import posixpath
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ..diagnoses import CATALOGUE, Diagnosis, diagnose, where_in_cell
from ..evidence import CellRun, strip_ansi
from ..layers import LayerTable
from ..shapes import format_size, format_trace, spatial_output

NOT_KNOWN = "not known"
EVALUE_LIMIT = 200
EVALUE_READ_LIMIT = 20_000
"""Characters of an error's text the classifiers read: Keras's longest messages fit."""
TREE_DEPTH_LIMIT = 100
"""A cell whose syntax tree nests deeper is read as one that does not parse: real cells nest a
few dozen levels, and `ast.unparse` or `literal_eval` on a deeper tree can exhaust the stack."""
NETWORK_OFF = {
    "Network is unreachable": "the network is unreachable",
    "[Errno 101]": "the network is unreachable",
    "Temporary failure in name resolution": "no host name can be looked up",
    "[Errno -3]": "no host name can be looked up",
    "Name or service not known": "no host name can be looked up",
}
"""Error texts that mean the network is off, and how the diagnosis words each."""
UNKNOWN_LIMIT = {"output": "amount", "processes": "number of processes", "file_size": "size",
                 "disk": "space", "memory": "amount"}
"""How a diagnosis words each limit of `meta["limits_hit"]` whose value the runner did not report."""
QUOTE_LIMIT = 1_000
"""Characters of the student's code or error a diagnosis field quotes, at most."""
SPAWNING = re.compile(r"fork|subprocess|Popen|multiprocessing|spawn|Pool|Process|Thread|os\.system")
"""What in a cell or its traceback starts processes or threads."""

STANDARD_IMPORTS = {
    "np": "import numpy as np",
    "plt": "import matplotlib.pyplot as plt",
    "tf": "import tensorflow as tf",
    "keras": "import keras",
    "pd": "import pandas as pd",
    "layers": "from keras import layers",
    "models": "from keras import models",
    "train_test_split": "from sklearn.model_selection import train_test_split",
    "to_categorical": "from keras.utils import to_categorical",
    "Sequential": "from keras.models import Sequential",
    "Model": "from keras.models import Model",
    "Input": "from keras import Input",
    "os": "import os",
    "math": "import math",
    "random": "import random",
    **{name: f"from keras.layers import {name}" for name in (
        "Conv2D", "MaxPooling2D", "MaxPool2D", "Dense", "Flatten", "Dropout", "BatchNormalization",
        "Activation", "AveragePooling2D", "GlobalAveragePooling2D")},
}

MODEL_API = (
    "fit", "evaluate", "predict", "compile", "summary", "save", "save_weights", "load_weights",
    "layers", "inputs", "outputs", "input", "output", "get_layer", "add", "pop", "count_params",
    "get_weights", "set_weights", "get_config", "to_json", "predict_on_batch", "train_on_batch",
    "test_on_batch", "trainable", "trainable_weights", "non_trainable_weights", "weights",
    "optimizer", "loss", "metrics", "metrics_names", "history", "name", "build", "export",
    "input_shape", "output_shape", "stop_training",
)
LAYER_API = (
    "output", "input", "name", "get_weights", "set_weights", "weights", "trainable",
    "trainable_weights", "kernel", "bias", "filters", "kernel_size", "units", "get_config",
    "count_params", "activation", "strides", "padding", "pool_size", "built", "dtype", "rate",
)
LAYER_CLASSES = (
    "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "SeparableConv2D", "DepthwiseConv2D",
    "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "MaxPooling1D", "Dense", "Flatten", "Dropout", "SpatialDropout2D",
    "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "Softmax",
    "Input", "InputLayer", "Reshape", "Rescaling", "Resizing", "RandomFlip", "RandomRotation",
    "RandomZoom", "RandomTranslation", "RandomContrast", "Concatenate", "Add", "ZeroPadding2D",
    "UpSampling2D", "Embedding", "LSTM", "GRU",
)
MODULE_NAMES = {
    "keras": ("models", "layers", "datasets", "callbacks", "utils", "optimizers", "losses",
              "metrics", "activations", "applications", "preprocessing", "regularizers",
              "initializers", "backend", "saving", "ops", "Sequential", "Model", "Input"),
    "tensorflow": ("keras", "data", "nn", "math", "random", "config", "image", "constant",
                   "Variable", "reduce_mean", "reduce_sum", "argmax", "cast", "float32", "int32",
                   "expand_dims", "reshape", "one_hot", "GradientTape", "function", "zeros",
                   "ones", "concat", "stack", "squeeze", "convert_to_tensor", "shape"),
    "layers": LAYER_CLASSES,
    "models": ("Sequential", "Model", "load_model", "save_model", "clone_model", "model_from_json"),
    "datasets": ("mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters",
                 "boston_housing", "california_housing"),
    "optimizers": ("Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "AdamW",
                   "schedules"),
    "callbacks": ("EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "TensorBoard",
                  "History", "LearningRateScheduler", "CSVLogger", "Callback", "LambdaCallback"),
    "utils": ("to_categorical", "plot_model", "image_dataset_from_directory", "load_img",
              "img_to_array", "array_to_img", "get_file", "set_random_seed", "normalize",
              "split_dataset"),
    "losses": ("categorical_crossentropy", "sparse_categorical_crossentropy",
               "binary_crossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
               "BinaryCrossentropy", "MeanSquaredError", "mean_squared_error"),
    "numpy": ("array", "arange", "zeros", "ones", "argmax", "argmin", "mean", "std", "sum",
              "reshape", "expand_dims", "concatenate", "stack", "load", "save", "random",
              "linspace", "float32", "uint8", "unique", "where", "max", "min", "squeeze"),
}
OBJECT_NAMES = {
    "History": ("history", "epoch", "params", "model"),
    "KerasTensor": ("shape", "dtype", "name"),
    "numpy.ndarray": ("reshape", "shape", "astype", "argmax", "mean", "sum", "max", "min",
                      "flatten", "ndim", "size", "dtype", "squeeze", "transpose", "copy",
                      "tolist", "std"),
}
MODEL_CLASSES = ("Sequential", "Functional", "Model")
NOT_KERAS_OBJECTS = {"numpy.ndarray", "list", "dict", "str", "int", "float", "bool", "tuple",
                     "NoneType", "DataFrame", "Series"}
# Keras 2 attributes gone in Keras 3: what replaces them, with {owner} the expression written.
REMOVED_ATTRIBUTES = {
    "output_shape": "{owner}.output.shape",
    "input_shape": "{owner}.input.shape",
    "predict_classes": "{owner}.predict(x).argmax(axis=-1)",
    "predict_proba": "{owner}.predict(x)",
    "fit_generator": "{owner}.fit",
    "evaluate_generator": "{owner}.evaluate",
    "predict_generator": "{owner}.predict",
    "np_utils": "keras.utils.to_categorical",
    "ImageDataGenerator": "keras.utils.image_dataset_from_directory",
}

PARAMETERS = {
    "fit": ("x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
            "validation_data", "shuffle", "class_weight", "sample_weight", "initial_epoch",
            "steps_per_epoch", "validation_steps", "validation_batch_size", "validation_freq"),
    "evaluate": ("x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks",
                 "return_dict"),
    "predict": ("x", "batch_size", "verbose", "steps", "callbacks"),
    "compile": ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics",
                "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"),
    "Model": ("inputs", "outputs", "name", "trainable"),
    "Sequential": ("layers", "trainable", "name"),
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
              "kernel_regularizer", "bias_regularizer", "name", "input_shape"),
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "groups", "activation", "use_bias", "kernel_initializer", "bias_initializer",
               "kernel_regularizer", "bias_regularizer", "name", "input_shape"),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format", "name"),
    "Dropout": ("rate", "noise_shape", "seed", "name"),
    "Adam": ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay",
             "clipnorm", "clipvalue", "global_clipnorm", "name"),
    "SGD": ("learning_rate", "momentum", "nesterov", "weight_decay", "clipnorm", "clipvalue",
            "name"),
    "RMSprop": ("learning_rate", "rho", "momentum", "epsilon", "centered", "weight_decay",
                "clipnorm", "clipvalue", "name"),
}
PARAMETERS["MaxPool2D"] = PARAMETERS["MaxPooling2D"]
PARAMETERS["Functional"] = PARAMETERS["Model"]
# Keras 1 and 2 spellings (and the usual slips) with their Keras 3 names.
RENAMED_ARGUMENTS = {
    "epoch": "epochs", "nb_epoch": "epochs", "batchsize": "batch_size", "batch": "batch_size",
    "validation": "validation_data", "metric": "metrics", "lr": "learning_rate",
    "input": "inputs", "output": "outputs", "init": "kernel_initializer", "output_dim": "units",
    "nb_filter": "filters", "border_mode": "padding", "subsample": "strides",
}
PLOTTING_MODULES = {"plotly", "seaborn", "bokeh", "altair", "plotnine"}
POOL_OPS = {"MaxPool": "MaxPooling2D", "AvgPool": "AveragePooling2D", "MaxPool3D": "MaxPooling3D",
            "AvgPool3D": "AveragePooling3D", "Conv2D": "Conv2D", "Conv3D": "Conv3D"}
KERAS_VERSIONS = {"tf_keras": 2, "keras": 3}
"""The two Kerases a process can hold, by the package their classes live in: tf-keras is Keras 2."""
KERAS_MODULES = {"tf_keras": ("tf_keras",), "keras": ("keras", "tensorflow.keras")}
"""What a cell imports to reach each one (`tensorflow.keras` is Keras 3 in Keras 3 mode, the only
mode where a cell that writes both names mixes two Kerases); `tf.keras.X` also reaches Keras 3."""
MIXED_KERAS_MARKERS = (
    ("Only instances of `keras.Layer` can be added to a Sequential model", "keras"),
    ("The added layer must be an instance of class Layer", "tf_keras"),
    ("All `inputs` values must be KerasTensors", "keras"),
    ("Could not interpret optimizer identifier", None),
)
"""Error texts in which one Keras (None: either) rejects an object it does not know, which the
text names by its class: Keras 3's Sequential, tf-keras's Sequential, Keras 3's `Model(inputs,
...)`, and either's `compile`."""
KERAS_CLASS = re.compile(r"<(?:class ')?(tf_keras|keras)\.src\.(?:\w+\.)*(\w+)(?:'>| object at)")
"""A Keras class as those texts name it: `<class 'tf_keras.src.layers.core.dense.Dense'>`,
`<keras.src.optimizers.adam.Adam object at 0x...>`."""
TUPLE_RANK = "'tuple' object has no attribute 'rank'"
"""tf-keras's error for one of its layers called on a Keras 3 tensor (whose shape is a tuple)."""


class SourceText(str):
    """A piece of the student's code: its repr is the code itself, so `{value!r}` in a template
    shows `keras.optimizers.Adam(0.001)` as written instead of quoting it as a string."""

    def __repr__(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class Failure:
    """One failing cell as the classifiers see it."""

    ename: str
    evalue: str
    """The error text, ANSI colours removed."""
    source: str
    tree: ast.Module | None
    """The cell's source parsed (IPython magics blanked out), None when it does not parse."""
    line: int | None
    cell: int | None
    file: str | None
    tables: Sequence[LayerTable]
    traceback: str = ""
    limits: Mapping[str, str] = field(default_factory=dict)
    """Limit (file_size, processes, disk, ...) -> its value as the runner reported it ("1 GB")."""
    keras: int = 3
    """The Keras mode the run was graded in: 2 (tf-keras, `TF_USE_LEGACY_KERAS=1`) or 3."""

    def diagnose(self, code: str, at_line: int | None = None, layer: str | None = None,
                 **fields) -> Diagnosis:
        """The diagnosis for this cell; `at_line` (found in the source) serves when the runner gave no line."""
        where = where_in_cell(self.cell, self.line or at_line, self.file)
        fields = {key: _clipped(value) for key, value in fields.items()}
        fields.setdefault("line", self.line or at_line)
        if CATALOGUE[code].depends_on_keras:
            fields.setdefault("keras", self.keras)
        return diagnose(code, cell=self.cell, layer=layer, detail=f"{self.ename}: {self.evalue}",
                        where=where, **fields)


Classifier = Callable[[Failure], Diagnosis | None]


def _clipped(value):
    """A quote from the student's code or error cut at `QUOTE_LIMIT` characters (a name can be a
    megabyte long); anything else as it is."""
    if not isinstance(value, str) or len(value) <= QUOTE_LIMIT:
        return value
    clipped = value[: QUOTE_LIMIT - 1] + "…"
    return SourceText(clipped) if isinstance(value, SourceText) else clipped


def keras_mode(value: object) -> int:
    """The Keras mode as the runner wrote it (`meta["keras_mode"]`): 2 only for the int 2, so
    that anything else, absent or malformed, is the default, 3."""
    return 2 if type(value) is int and value == 2 else 3


def classify_error(run: CellRun, tables: Sequence[LayerTable] = (), file: str | None = None,
                   limits: Mapping[str, str] = MappingProxyType({}), keras: int = 3) -> Diagnosis:
    """The one catalogued diagnosis that best explains the error `run` raised; `limits` are the
    runner's limits that were hit (limit -> value), for the diagnoses of a limit; `keras` is the
    Keras mode the run was graded in (anything but 2 is 3)."""
    if run.error is None:
        raise ValueError(f"cell {run.cell} raised no error")
    failure = Failure(
        ename=run.error.ename, evalue=unwrapped(strip_ansi(run.error.evalue[:EVALUE_READ_LIMIT])), source=run.source,
        tree=parse_cell(run.source), line=run.error.line, cell=run.cell, file=file, tables=tables,
        traceback=run.error.traceback[-EVALUE_READ_LIMIT:], limits=limits, keras=keras_mode(keras),
    )
    try:
        for classifier in CLASSIFIERS:
            diagnosis = classifier(failure)
            if diagnosis is not None:
                return diagnosis
    except RecursionError:
        pass  # a source too deep for a helper that recurses: the error's own words still stand
    return runtime_error(failure)


def explain_errors(runs: Sequence[CellRun],
                   tables_by_cell: Mapping[int, Sequence[LayerTable]] = MappingProxyType({}),
                   file: str | None = None, limits: Mapping[str, str] = MappingProxyType({}),
                   keras: int = 3) -> list[Diagnosis]:
    """One diagnosis per root cause, in cell order, for a run graded in Keras `keras` mode.
    Timeouts have their own diagnosis.

    A cell whose only fault is an undefined name that an earlier failing cell assigns failed
    because of that cell: it is listed under the root cause's diagnosis (`consequences`), not
    given one of its own, and so is a cell that fails the same way because of such a cell."""
    diagnoses: list[Diagnosis] = []
    failed_before: list[CellRun] = []
    root_of: dict[int, int] = {}
    for run in runs:
        if run.error is None or run.status != "error":
            continue
        diagnosis = classify_error(run, tables_by_cell.get(run.cell, ()), file, limits, keras)
        failed_before.append(run)
        origin = _origin(diagnosis, failed_before[:-1]) if run.cell is not None else None
        if origin is None:
            diagnoses.append(diagnosis)
            root_of[run.cell] = run.cell
            continue
        root = root_of[origin.cell]
        root_of[run.cell] = root
        index = next(i for i, found in enumerate(diagnoses) if found.cell == root)
        diagnoses[index] = replace(diagnoses[index], consequences=diagnoses[index].consequences + (run.cell,))
    return diagnoses


def _origin(diagnosis: Diagnosis, failed_before: Sequence[CellRun]) -> CellRun | None:
    """The latest earlier failing cell that assigns the name `diagnosis` finds undefined."""
    if diagnosis.code != "name_error":
        return None
    return next((earlier for earlier in reversed(failed_before)
                 if diagnosis.field("name") in _assigned_names(parse_cell(earlier.source))), None)


def parse_cell(source: str) -> ast.Module | None:
    """The cell's syntax tree, with IPython magics and shell lines (`%%time`, `!wget`) blanked
    out so that line numbers still match; None when it does not parse, or nests deeper than
    `TREE_DEPTH_LIMIT` (Python's own parser gives up on such code with a RecursionError or a
    MemoryError)."""
    lines = []
    for text in source.splitlines():
        stripped = text.lstrip()
        if stripped.startswith(("%", "!")):
            text = text[: len(text) - len(stripped)] + "pass"
        lines.append(text)
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return None if _deeper_than(tree, TREE_DEPTH_LIMIT) else tree


def _deeper_than(tree: ast.AST, limit: int) -> bool:
    """Whether any node of the tree lies more than `limit` levels down, found without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


# Classifiers, in the order they are tried.

def syntax_error(failure: Failure) -> Diagnosis | None:
    if failure.ename not in ("SyntaxError", "IndentationError", "TabError"):
        return None
    # IPython's text ends with the place: "'(' was never closed (<ipython-input-1-9a>, line 1)".
    place = re.search(r"\(([^()]*), line (\d+)\)\s*$", failure.evalue)
    error = failure.evalue[: place.start()] if place else failure.evalue
    line = failure.line or (int(place.group(2)) if place else None) or _compile_line(failure.source)
    return failure.diagnose("syntax_error", line, error=error.strip().rstrip("."), line=line or 1)


def missing_module(failure: Failure) -> Diagnosis | None:
    match = re.search(r"No module named '([^']+)'", failure.evalue)
    if failure.ename not in ("ModuleNotFoundError", "ImportError") or not match:
        return None
    module = match.group(1)
    root = module.split(".")[0]
    if module.startswith("google.colab") or (module == "google" and "colab" in failure.source):
        fix = ("Remove the Colab-only lines (`from google.colab import ...`, `drive.mount(...)`): "
               "the grader runs outside Colab.")
    elif root in PLOTTING_MODULES:
        fix = "Remove the import or use matplotlib, which is installed."
    elif root == "keras" or module.startswith(("tensorflow.keras", "tensorflow.python.keras")):
        fix = ("That module path is from Keras 2 and is gone in Keras 3: import from `keras` "
               "directly, e.g. `from keras import layers, models`.")
    else:
        fix = (f"Remove `import {module}` and the code that uses it: numpy, pandas, matplotlib, "
               "scikit-learn and TensorFlow/Keras are what is installed.")
    return failure.diagnose("missing_module", _import_line(failure.tree, module), module=module, fix=fix)


def name_error(failure: Failure) -> Diagnosis | None:
    match = re.search(r"name '(\w+)' is not defined", failure.evalue)
    if failure.ename != "NameError" or not match:
        return None
    name = match.group(1)
    if name in STANDARD_IMPORTS:
        suggestion = f", e.g. `{STANDARD_IMPORTS[name]}`"
    else:
        close = _similar_name(name, _assigned_names(failure.tree))
        suggestion = f" (did you mean `{close}`?)" if close else ""
    line = next((node.lineno for node in _walk(failure.tree, ast.Name) if node.id == name), None)
    return failure.diagnose("name_error", line, name=name, suggestion=suggestion)


def sequential_input_undefined(failure: Failure) -> Diagnosis | None:
    match = re.search(r"has never been called and thus has no defined (input|output)\b", failure.evalue)
    if not match:
        return None
    which = match.group(1)
    # The model is a plain variable; `model.layers[0].output` next to it is a layer, not the culprit.
    nodes = [node for node in _walk(failure.tree, ast.Attribute)
             if node.attr == which and isinstance(node.value, ast.Name)]
    owner = nodes[0].value.id if nodes else "model"
    return failure.diagnose("sequential_input_undefined", nodes[0].lineno if nodes else None,
                            expression=f"{owner}.{which}", replacement=f"{owner}.{which}s")


def mixed_keras(failure: Failure) -> Diagnosis | None:
    """A layer, model, optimizer or tensor of one Keras given to the other: tf-keras (Keras 2) and
    Keras 3 are separate code bases, and neither takes the other's objects."""
    found = _other_kerases_object(failure) or _tf_keras_layer_on_keras3_tensor(failure)
    if found is None:
        return None
    package, class_name, line = found
    model_package = next(other for other in KERAS_VERSIONS if other != package)
    return failure.diagnose("mixed_keras", line, class_name=class_name, package=package,
                            version=KERAS_VERSIONS[package], model_package=model_package,
                            model_version=KERAS_VERSIONS[model_package])


def _other_kerases_object(failure: Failure) -> tuple[str, str, int | None] | None:
    """(package, class, line) of the object a Keras rejected, when it is the other Keras's."""
    rejecting = [package for marker, package in MIXED_KERAS_MARKERS if marker in failure.evalue]
    match = KERAS_CLASS.search(failure.evalue) if rejecting else None
    if match is None or match.group(1) in rejecting:
        return None  # not a Keras object, or one of the Keras that rejected it: another mistake
    package, class_name = match.groups()
    call = next((call for call in _calls_from(failure.tree, package) if _function_name(call) == class_name), None)
    return package, class_name, call.lineno if call is not None else None


def _tf_keras_layer_on_keras3_tensor(failure: Failure) -> tuple[str, str, int | None] | None:
    """A tf-keras layer called on a Keras 3 tensor fails deep inside with a text that names
    neither: only a cell that visibly uses both Kerases, in Keras 3 mode, is read as one."""
    if failure.keras != 3 or failure.ename != "AttributeError" or not failure.evalue.startswith(TUPLE_RANK):
        return None
    calls = _calls_from(failure.tree, "tf_keras")
    uses_keras3 = _calls_from(failure.tree, "keras") or _names_from(failure.tree, "keras") & _loaded_names(failure.tree)
    if not calls or not uses_keras3:
        return None
    call = next((call for call in calls if _function_name(call) in LAYER_CLASSES), calls[0])
    return "tf_keras", _function_name(call) or "Layer", call.lineno


def removed_or_misspelt(failure: Failure) -> Diagnosis | None:
    missing = _missing_attribute(failure)
    if missing is None:
        return None
    owner_kind, attribute = missing
    owner, line = _written_owner(failure, owner_kind, attribute)
    if attribute == "experimental" and owner_kind.startswith("module "):
        return _experimental_preprocessing(failure, owner, line)
    if attribute in REMOVED_ATTRIBUTES and owner_kind not in NOT_KERAS_OBJECTS:
        return failure.diagnose("removed_api", line, old=f"{owner}.{attribute}",
                                new=REMOVED_ATTRIBUTES[attribute].format(owner=owner))
    suggestion = _closest(attribute, _known_names(owner_kind))
    if suggestion is None:
        return None
    return failure.diagnose("attribute_typo", line, owner=owner, attribute=attribute,
                            suggestion=suggestion)


def unknown_argument(failure: Failure) -> Diagnosis | None:
    found = _unknown_keyword(failure)
    if found is None:
        return None
    function, argument = found
    call = _call_with_keyword(failure.tree, argument)
    if function is None:
        function = _function_name(call) if call is not None else "evaluate"
    fix = _argument_fix(function, argument, call)
    return failure.diagnose("unknown_fit_argument", call.lineno if call is not None else None,
                            function=function, argument=argument, fix=fix)


def missing_channel_dim(failure: Failure) -> Diagnosis | None:
    match = re.search(r"expected (?:min_)?ndim=4, found ndim=(\d+)", failure.evalue)
    if not match or int(match.group(1)) >= 4:
        return None
    return failure.diagnose("missing_channel_dim", found=int(match.group(1)))


def legacy_save_format(failure: Failure) -> Diagnosis | None:
    if "Invalid filepath extension for saving" not in failure.evalue:
        return None
    call = next((call for call in _calls(failure.tree, "save") if call.args), None)
    if call is not None and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        path = call.args[0].value
    else:
        match = re.search(r"Received: filepath=([^\n]*)", failure.evalue)
        path = match.group(1).strip().removesuffix(".").rstrip() if match else "model"
    return failure.diagnose("legacy_save_format", call.lineno if call is not None else None,
                            path=path, suggested=_keras_file_name(path))


def legacy_load_format(failure: Failure) -> Diagnosis | None:
    match = re.search(r"File format not supported: filepath=(.*?)\. Keras 3 only supports", failure.evalue)
    if not match:
        return None
    path = match.group(1)
    call = next((call for call in _calls(failure.tree, "load_model") if call.args), None)
    return failure.diagnose("legacy_load_format", call.lineno if call is not None else None,
                            path=path, suggested=_keras_file_name(path))


def compile_positional_metrics(failure: Failure) -> Diagnosis | None:
    # Keras 3.15 rejects a string at compile time; a list (['accuracy']) passes compile and
    # fails at fit, possibly in a later cell, when Keras tries to use it as a loss weight.
    at_compile = "Expected `loss_weights` argument to be" in failure.evalue
    at_fit = "dtype='string' is not a valid dtype for Keras type promotion" in failure.evalue
    if not (at_compile or at_fit):
        return None
    call = next((call for call in _calls(failure.tree, "compile") if len(call.args) >= 3), None)
    if call is not None:
        return failure.diagnose(
            "compile_positional_metrics", call.lineno,
            args=", ".join(ast.unparse(arg) for arg in call.args), value=_value_of(call.args[2]),
            optimizer=_value_of(call.args[0]), loss=_value_of(call.args[1]))
    match = re.search(r"loss_weights=(.*?) of type", failure.evalue)
    value = _literal_text(match.group(1)) if match else "accuracy"
    optimizer, loss = "adam", SourceText("...")
    return failure.diagnose("compile_positional_metrics", args=f"{optimizer!r}, {loss!r}, {value!r}",
                            value=value, optimizer=optimizer, loss=loss)


def metrics_not_list(failure: Failure) -> Diagnosis | None:
    if "Expected `metrics` argument to be a list, tuple, or dict" not in failure.evalue:
        return None
    call = _call_with_keyword(failure.tree, "metrics")
    if call is not None:
        keyword = next(keyword for keyword in call.keywords if keyword.arg == "metrics")
        return failure.diagnose("metrics_not_list", call.lineno, value=_value_of(keyword.value))
    match = re.search(r"Received instead: metrics=(.*?) of type", failure.evalue)
    return failure.diagnose("metrics_not_list", value=match.group(1) if match else "accuracy")


def pooling_collapse(failure: Failure) -> Diagnosis | None:
    text = failure.evalue
    if ("Computed output size would be zero or negative" not in text
            and "Negative dimension size caused by subtracting" not in text):
        return None
    table = next((table for table in failure.tables if table.collapse is not None), None)
    if table is not None:
        step = table.collapse
        steps = list(table.trace[: table.trace.index(step) + 1])
        fields = {"class_name": step.class_name, "size_in": format_size(step.size_in),
                  "window": format_size(step.window), "size_out": format_size(step.size_out),
                  "trace": format_trace(steps)}
        return failure.diagnose("pooling_collapse", layer=step.layer, **fields)
    step = _collapse_from_message(text)
    return failure.diagnose("pooling_collapse", layer=step.pop("layer"), trace=NOT_KNOWN, **step)


def data_unavailable(failure: Failure) -> Diagnosis | None:
    path = _missing_path(failure)
    if path is None:
        return None
    line = next((number for number, text in enumerate(failure.source.splitlines(), 1) if path in text), None)
    return failure.diagnose("data_unavailable", line, path=path)


def hard_coded_count(failure: Failure) -> Diagnosis | None:
    """`x.reshape(60000, 28, 28, 1)` on an array that does not hold 60,000 such images."""
    match = re.search(r"cannot reshape array of size (\d+) into shape \((\d+),\s*([\d,\s]+)\)", failure.evalue)
    if not match:
        return None
    size, count = int(match.group(1)), int(match.group(2))
    rest = [int(part) for part in match.group(3).replace(" ", "").split(",") if part]
    per_image = 1
    for part in rest:
        per_image *= part
    if count < 100 or not rest or size % per_image != 0 or size // per_image == count:
        return None  # not a count of images, or the shape of each image is what is wrong
    line = next((number for number, text in enumerate(failure.source.splitlines(), 1)
                 if "reshape" in text and str(count) in text), None)
    return failure.diagnose("hard_coded_count", line, count=count, size=size,
                            rest=", ".join(str(part) for part in rest))


def network_unavailable(failure: Failure) -> Diagnosis | None:
    """A download, an API call or an install that found no network: it is off where work is graded."""
    reason = next((words for marker, words in NETWORK_OFF.items() if marker in failure.evalue), None)
    if reason is None:
        return None
    url = re.search(r"https?://[^\s'\"<>]+", failure.evalue) or re.search(r"https?://[^\s'\"<>]+", failure.source)
    host = re.search(r"host='([^'\s]+)'", failure.evalue)
    target = url.group(0).rstrip(":.,;)") if url else host.group(1) if host else "a server"
    line = next((number for number, text in enumerate(failure.source.splitlines(), 1) if target in text), None)
    return failure.diagnose("network_unavailable", line, target=target, reason=reason)


def file_limit(failure: Failure) -> Diagnosis | None:
    """A write past the size one file may have (the kernel refuses it with EFBIG)."""
    if "[Errno 27]" not in failure.evalue and "File too large" not in failure.evalue:
        return None
    return failure.diagnose("file_limit", limit=limit_words("file_size", failure.limits.get("file_size")))


def disk_limit(failure: Failure) -> Diagnosis | None:
    """A write past the space the run's files may take in all (ENOSPC or EDQUOT)."""
    markers = ("[Errno 28]", "No space left on device", "[Errno 122]", "Disk quota exceeded")
    if not any(marker in failure.evalue for marker in markers):
        return None
    return failure.diagnose("disk_limit", limit=limit_words("disk", failure.limits.get("disk")))


def process_limit(failure: Failure) -> Diagnosis | None:
    """A fork, a subprocess or a thread refused because the run has as many processes as it may."""
    refused = (failure.ename in ("BlockingIOError", "OSError")
               and ("[Errno 11]" in failure.evalue or "Resource temporarily unavailable" in failure.evalue)
               and SPAWNING.search(failure.source + "\n" + failure.traceback) is not None)
    if not refused and "can't start new thread" not in failure.evalue:
        return None
    return failure.diagnose("process_limit", limit=limit_words("processes", failure.limits.get("processes")))


def limit_words(limit: str, value: str | None) -> str:
    """A limit as a diagnosis words it: '1 GB', '256 processes' (from '256'), or the words for
    a value the runner did not report."""
    if not value:
        return UNKNOWN_LIMIT[limit]
    return f"{value} processes" if limit == "processes" and value.strip().isdigit() else value


def runtime_error(failure: Failure) -> Diagnosis:
    return failure.diagnose("runtime_error", ename=failure.ename, evalue=one_line(failure.evalue))


CLASSIFIERS: tuple[Classifier, ...] = (
    syntax_error, missing_module, name_error, mixed_keras, sequential_input_undefined, removed_or_misspelt,
    unknown_argument, missing_channel_dim, legacy_save_format, legacy_load_format, compile_positional_metrics,
    metrics_not_list, pooling_collapse, network_unavailable, file_limit, disk_limit, process_limit,
    data_unavailable, hard_coded_count,
)


GRAPH_FRAMES = "in user code:"
"""How TensorFlow starts an error raised inside a `tf.function`: Keras 2's `fit`, `evaluate` and
`predict` run in one, so a wrong input shape there arrives as the grader's own file paths, then
the error."""
_RAISED = re.compile(r"^[ \t]*[A-Za-z_][\w.]*(?:Error|Exception): ", re.MULTILINE)


def unwrapped(evalue: str) -> str:
    """The error a `tf.function` re-raised, without the frames TensorFlow quotes before it:
    'in user code: File "…/training.py" … ValueError: Input 0 of layer …' -> 'Input 0 of layer …'.
    Any other text as it is."""
    if not evalue.lstrip().startswith(GRAPH_FRAMES):
        return evalue
    raised = list(_RAISED.finditer(evalue))
    if not raised:
        return evalue
    return textwrap.dedent(evalue[raised[-1].end():]).strip() or evalue


def one_line(evalue: str, limit: int = EVALUE_LIMIT) -> str:
    """The error text on one line, without Keras's 'Exception encountered when calling' frame."""
    text = strip_ansi(evalue)
    if text.startswith("Exception encountered when calling") and "\n\n" in text:
        text = text.split("\n\n", 1)[1]
    text = text.split("\n\nArguments received by", 1)[0]
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut) + "…"


# Helpers: reading the source.

def _walk(tree: ast.AST | None, node_type: type) -> list:
    if tree is None:
        return []
    nodes = [node for node in ast.walk(tree) if isinstance(node, node_type)]
    return sorted(nodes, key=lambda node: (node.lineno, node.col_offset))


def _calls(tree: ast.AST | None, name: str) -> list[ast.Call]:
    return [call for call in _walk(tree, ast.Call) if _function_name(call) == name]


def _function_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _call_with_keyword(tree: ast.AST | None, keyword: str) -> ast.Call | None:
    return next((call for call in _walk(tree, ast.Call)
                 if any(item.arg == keyword for item in call.keywords)), None)


def _value_of(node: ast.AST):
    """A literal as its value ('adam', ['accuracy']); any other expression as the code written."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return SourceText(ast.unparse(node))


def _literal_text(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def _assigned_names(tree: ast.AST | None) -> set[str]:
    names = {node.id for node in _walk(tree, ast.Name) if isinstance(node.ctx, ast.Store)}
    names |= {node.name for node in _walk(tree, (ast.FunctionDef, ast.ClassDef))}
    for node in _walk(tree, (ast.Import, ast.ImportFrom)):
        names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _similar_name(name: str, candidates: set[str]) -> str | None:
    if name.lower() in ("true", "false", "none"):
        return name.capitalize()
    return _closest(name, sorted(candidates - {name}))


def _closest(name: str, candidates: Sequence[str]) -> str | None:
    """The known name `name` is most likely a slip for (case slips included), or None."""
    candidates = [candidate for candidate in candidates if candidate != name]
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if match:
        return match[0]
    lowered = {candidate.lower(): candidate for candidate in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _names_from(tree: ast.AST | None, package: str) -> set[str]:
    """The names that stand in the cell for the Keras `package` or for something taken from it:
    what its imports bind (`import tf_keras as tk`, `from tf_keras.layers import Dense`), and the
    package's own name unless an import there binds that name to something else."""
    bound, rebound = set(), set()
    for node in _walk(tree, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            if isinstance(node, ast.Import):
                name, dotted = alias.asname or alias.name.split(".")[0], alias.name
            else:
                name, dotted = alias.asname or alias.name, f"{'.' * node.level}{node.module or ''}.{alias.name}"
            (bound if _in_package(dotted, package) else rebound).add(name)
    return bound | ({package} - rebound)


def _in_package(dotted: str, package: str) -> bool:
    return any(dotted == module or dotted.startswith(module + ".") for module in KERAS_MODULES[package])


def _calls_from(tree: ast.AST | None, package: str) -> list[ast.Call]:
    """The cell's calls of something from the Keras `package` (`tf_keras.layers.Dense(3)`, or
    `Dense(3)` after `from tf_keras.layers import Dense`), in source order."""
    names = _names_from(tree, package)
    spelt = [(call, _dotted(call.func) or "") for call in _walk(tree, ast.Call)]
    return [call for call, dotted in spelt if dotted.partition(".")[0] in names
            or (package == "keras" and dotted.startswith(("tf.keras.", "tensorflow.keras.")))]


def _loaded_names(tree: ast.AST | None) -> set[str]:
    return {node.id for node in _walk(tree, ast.Name) if isinstance(node.ctx, ast.Load)}


def _dotted(node: ast.AST) -> str | None:
    """'tf.keras.layers.Dense' for that attribute chain; None for any other expression."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _import_line(tree: ast.AST | None, module: str) -> int | None:
    for node in _walk(tree, (ast.Import, ast.ImportFrom)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        if any(module == name or module.startswith(name + ".") or name.startswith(module) for name in names):
            return node.lineno
    return None


def _compile_line(source: str) -> int | None:
    """Where Python itself places a syntax error (compiled only, never run)."""
    try:
        compile(source, "<cell>", "exec", dont_inherit=True)
    except SyntaxError as error:
        return error.lineno
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


# Helpers: reading the error.

def _missing_attribute(failure: Failure) -> tuple[str, str] | None:
    """('module keras.layers', 'Conv2d') or ('Sequential', 'evalutions') from the error text."""
    text = failure.evalue
    if failure.ename == "AttributeError":
        match = re.match(r"module '([\w.]+)' has no attribute '(\w+)'", text)
        if match:
            return f"module {match.group(1)}", match.group(2)
        match = re.match(r"(?:type object )?'([\w.]+)' (?:object )?has no attribute '(\w+)'", text)
        if match:
            return match.group(1), match.group(2)
    if failure.ename == "ImportError":
        match = re.match(r"cannot import name '(\w+)' from '([\w.]+)'", text)
        if match:
            return f"module {match.group(2)}", match.group(1)
    return None


def _written_owner(failure: Failure, owner_kind: str, attribute: str) -> tuple[str, int | None]:
    """The expression the student wrote before `.attribute` (`tf.keras`, `model`) and its line."""
    for node in _walk(failure.tree, ast.Attribute):
        if node.attr == attribute:
            return ast.unparse(node.value), node.lineno
    for node in _walk(failure.tree, ast.ImportFrom):
        if any(alias.name == attribute for alias in node.names):
            return node.module or "", node.lineno
    if owner_kind.startswith("module "):
        return _public_module(owner_kind.removeprefix("module ")), None
    return owner_kind, None


def _public_module(module: str) -> str:
    """'keras._tf_keras.keras.layers' -> 'tf.keras.layers': the name a student writes."""
    module = module.replace("keras._tf_keras.", "tf.")
    return ".".join(part for part in module.split(".") if part not in ("api", "src"))


def _known_names(owner_kind: str) -> Sequence[str]:
    if owner_kind.startswith("module "):
        parts = [part for part in owner_kind.removeprefix("module ").split(".")
                 if not part.startswith("_") and part not in ("api", "src")]
        return MODULE_NAMES.get(parts[-1], ()) if parts else ()
    if owner_kind in MODEL_CLASSES or owner_kind.endswith("Model"):
        return MODEL_API
    if owner_kind in LAYER_CLASSES:
        return LAYER_API
    return OBJECT_NAMES.get(owner_kind, ())


def _experimental_preprocessing(failure: Failure, owner: str, line: int | None) -> Diagnosis:
    old, new = f"{owner}.experimental.preprocessing", owner
    source, marker = failure.source, ".experimental.preprocessing."
    index = source.find(marker)
    layer = re.match(r"\w+", source[index + len(marker):]) if index >= 0 else None
    start = index
    while start > 0 and (source[start - 1].isalnum() or source[start - 1] in "_."):
        start -= 1  # back over `tf.keras.layers`: a loop, since a pattern would go quadratic on long code
    if layer is not None and start < index:
        old, new = source[start:index + len(marker) + layer.end()], f"{source[start:index]}.{layer.group(0)}"
    return failure.diagnose("removed_api", line, old=old, new=new)


def _unknown_keyword(failure: Failure) -> tuple[str | None, str] | None:
    """(function, argument) from the three ways Keras and Python reject a keyword."""
    text = failure.evalue
    match = (re.search(r"\b(?:(\w+)\.)?(\w+)\(\) got an unexpected keyword argument '(\w+)'", text)
             if failure.ename == "TypeError" and "got an unexpected keyword argument" in text else None)
    if match:
        owner, function, argument = match.groups()
        return (owner if function == "__init__" and owner else function), argument
    match = re.search(r"Unrecognized keyword arguments passed to (\w+): \{(.*)\}", text, re.S)
    if match:
        function = match.group(1)
        keys = re.findall(r"'(\w+)': ", match.group(2))
        unknown = [key for key in keys if key not in PARAMETERS.get(function, ())]
        return (function, (unknown or keys or ["?"])[0]) if keys else None
    match = re.search(r"Argument(?:s|\(s\)) not recognized: \{'(\w+)'", text)
    if match:
        return None, match.group(1)
    return None


def _argument_fix(function: str, argument: str, call: ast.Call | None) -> str:
    known = PARAMETERS.get(function, ())
    suggestion = RENAMED_ARGUMENTS.get(argument)
    if suggestion is None or (known and suggestion not in known):
        suggestion = _closest(argument, known)
    if suggestion is None:
        if known:
            return f"Remove `{argument}=`: `{function}()` takes {', '.join(known)}."
        return f"Remove `{argument}=` or check its spelling in the Keras documentation of `{function}`."
    example = f"{suggestion}=..."
    if call is not None:
        renamed = _renamed_call(call, argument, suggestion)
        example = renamed if len(renamed) <= 100 else example
    return f"Did you mean `{suggestion}=`? Write `{example}`."


def _renamed_call(call: ast.Call, argument: str, suggestion: str) -> str:
    keywords = [ast.keyword(arg=suggestion if item.arg == argument else item.arg, value=item.value)
                for item in call.keywords]
    return ast.unparse(ast.Call(func=call.func, args=call.args, keywords=keywords))


def _keras_file_name(path: str) -> str:
    stem, extension = posixpath.splitext(path.rstrip("/"))
    if extension.lower() in (".tf", ".pb", ".hdf5", ".ckpt", ".model", ".savedmodel"):
        return stem + ".keras"
    return path.rstrip("/") + ".keras"


def _missing_path(failure: Failure) -> str | None:
    text = failure.evalue
    patterns = (
        r"No such file or directory: '([^']+)'",   # open, np.load, pd.read_csv
        r"unable to open file: name = '([^']+)'",  # h5py
        r"URL fetch failure on (\S+?):\s",        # keras.utils.get_file offline
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    if failure.ename == "CalledProcessError" and re.search(r"\b(wget|curl|gdown)\b", text):
        url = re.search(r"https?://[^\s'\"]+", text)
        command = re.search(r"Command '([^']+)'", text)
        return url.group(0) if url else (command.group(1) if command else None)
    if "urlopen error" in text:
        url = re.search(r"https?://[^\s'\"]+", failure.source)
        return url.group(0) if url else None
    return None


def _collapse_from_message(text: str) -> dict:
    """layer, class_name, size_in, window and size_out, as far as the error text tells them."""
    if "Negative dimension size" in text:
        step = _tf2_collapse(text)
    elif "kernel shape=" in text:
        step = _keras3_conv_collapse(text)
    else:
        step = _keras3_pool_collapse(text)
    fields = {"layer": NOT_KNOWN, "class_name": NOT_KNOWN, "size_in": NOT_KNOWN,
              "window": NOT_KNOWN, "size_out": NOT_KNOWN}
    fields.update({key: value for key, value in step.items() if value is not None})
    return fields


def _numbers(text: str | None) -> list[int | None]:
    if text is None:
        return []
    return [None if item in ("None", "?") else int(item) for item in re.findall(r"None|\?|-?\d+", text)]


def _search(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def _step_fields(size_in, window, strides, padding, dilation=None) -> dict:
    fields = {"size_in": format_size(size_in) if size_in else None,
              "window": format_size(window) if window else None}
    known = size_in and window and strides and padding and len(size_in) == len(window) == len(strides)
    if known and None not in size_in:
        fields["size_out"] = format_size(spatial_output(tuple(size_in), tuple(window), tuple(strides),
                                                        padding.lower(), tuple(dilation) if dilation else None))
    return fields


def _keras3_pool_collapse(text: str) -> dict:
    # "calling MaxPooling2D.call() ... `inputs.shape=[None 1 1 64]`, `pool_size=[2 2]`,
    #  `strides=(2, 2)`, `padding=valid`."
    shape = _numbers(_search(r"inputs\.shape=\[([^\]]*)\]", text))
    fields = _step_fields(shape[1:-1], _numbers(_search(r"pool_size=[\[(]([^\])]*)", text)),
                          _numbers(_search(r"strides=[\[(]([^\])]*)", text)),
                          _search(r"padding=(\w+)", text))
    return {"class_name": _search(r"calling (\w+)\.call\(\)", text), **fields}


def _keras3_conv_collapse(text: str) -> dict:
    # "Received `inputs shape=(None, 2, 2, 3)`, `kernel shape=(3, 3, 3, 4)`,
    #  `dilation_rate=[1 1]`, `strides=(1, 1)`, `padding=valid`."
    shape = _numbers(_search(r"inputs shape=\(([^)]*)\)", text))
    kernel = _numbers(_search(r"kernel shape=\(([^)]*)\)", text))
    rank = len(kernel) - 2
    fields = _step_fields(shape[1:-1], kernel[:rank] if rank > 0 else None,
                          _numbers(_search(r"strides=[\[(]([^\])]*)", text)),
                          _search(r"padding=(\w+)", text),
                          _numbers(_search(r"dilation_rate=[\[(]([^\])]*)", text)))
    return {"class_name": f"Conv{rank}D" if rank > 0 else None, **fields}


def _tf2_collapse(text: str) -> dict:
    # "Negative dimension size caused by subtracting 2 from 1 for '{{node max_pooling2d_27/MaxPool}}
    #  = MaxPool[..., ksize=[1, 2, 2, 1], padding="VALID", strides=[1, 2, 2, 1]](...)'
    #  with input shapes: [?,1,1,64]."
    node = re.search(r"\{\{node ([\w/]+?)/(\w+)\}\}", text)
    shapes = re.findall(r"\[([^\]]*)\]", text.split("with input shapes:", 1)[-1])
    size_in = _numbers(shapes[0])[1:-1] if shapes else []
    window = _numbers(_search(r"ksize=\[([^\]]*)\]", text))[1:-1]
    if not window and len(shapes) > 1:
        window = _numbers(shapes[1])[: len(size_in)]
    fields = _step_fields(size_in, window, _numbers(_search(r"strides=\[([^\]]*)\]", text))[1:-1],
                          _search(r'padding="(\w+)"', text))
    if not fields["window"]:
        subtracted = re.search(r"subtracting (\d+) from (\d+)", text)
        if subtracted:
            fields.update(window=subtracted.group(1), size_in=subtracted.group(2))
    return {"layer": node.group(1).split("/")[0] if node else None,
            "class_name": POOL_OPS.get(node.group(2)) if node else None, **fields}
