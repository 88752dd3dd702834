"""Keras 2 mode: a submission run under tf-keras, the Keras 2 code base kept for TensorFlow 2.21.

Courses written for Keras 2 (the seed notebooks among them) mix `import keras` with
`from tensorflow import keras`, call `compile(metrics='accuracy')`, build
`keras.Model(model.input, ...)` on a Sequential model and save to folders: all fine under
Keras 2, all errors under Keras 3. In Keras 2 mode the submission's processes start with
`TF_USE_LEGACY_KERAS=1`, which makes `tensorflow.keras` the tf-keras package, and `alias()` makes
`import keras` (and `keras.anything`) give that same package, as it did when the course was
written. The grader's own process never imports either: it only asks whether tf-keras is there.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

PACKAGE = "tf_keras"
"""The Keras 2 package's import name (PyPI: tf-keras)."""
ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1"}
"""What a Keras 2 mode process starts with: TensorFlow reads it when `tensorflow.keras` is first
used, so it must be set before the process starts."""
INSTALL = "pip install 'cnngrader[keras2]'"
REQUIREMENT = "tf-keras~=2.21"


class Keras2Unavailable(RuntimeError):
    """Keras 2 mode was asked for where tf-keras is not installed."""


def available() -> bool:
    """Whether tf-keras can be imported here (found, not imported: that would import TensorFlow)."""
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except (ImportError, ValueError):
        return False


def require(where: str = "this exercise") -> None:
    """Raise `Keras2Unavailable`, saying how to install tf-keras, where it is missing."""
    if not available():
        raise Keras2Unavailable(
            f"{where} is graded in Keras 2 mode, which needs tf-keras, not installed here. "
            f"Install it with `{INSTALL}` (or `pip install '{REQUIREMENT}'`), or grade in Keras 3 "
            "mode with `--keras 3`.")


def mode_of(environment) -> int:
    """The Keras mode a process with this environment runs in."""
    return 2 if environment.get("TF_USE_LEGACY_KERAS") == "1" else 3


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`keras` and `keras.X` imported as `tf_keras` and `tf_keras.X`: the same module objects, so
    a layer from `keras.layers` and one from `tensorflow.keras.layers` are of one class."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("keras."):
            return None
        real = PACKAGE + fullname[len("keras"):]
        try:
            if importlib.util.find_spec(real) is None:
                return None
        except (ImportError, ValueError):
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=real)

    def create_module(self, spec):
        return importlib.import_module(spec.origin)

    def exec_module(self, module) -> None:
        pass  # imported already, as itself


def alias() -> None:
    """Make `import keras` give tf-keras in this process (once; before any Keras is imported).

    A Keras 3 imported earlier is dropped from `sys.modules` (its importers keep what they hold):
    a Keras 2 mode process has no business with it, and leaving `keras.layers` there would give
    Keras 3's layers to `from keras.layers import Dense`."""
    if any(isinstance(finder, _Alias) for finder in sys.meta_path):
        return
    for name in [name for name in sys.modules if name == "keras" or name.startswith("keras.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _Alias())
