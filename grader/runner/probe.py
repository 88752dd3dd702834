"""The probe: runs inside the submission's process and writes down what happened.

It watches every Keras model as it is created (so a model whose variable a later cell
overwrites is still seen), every `fit`, and every `save`, and writes plain JSON to the path the
runner gave it. In quick mode it caps every `fit` (one epoch of a few batches) and shortens
`evaluate` and `predict`, so a notebook that trains for 20 epochs is checked in seconds.

It judges nothing: the grader's process reads the JSON and recomputes everything it grades.
Configuration comes as a JSON file whose path is passed to `install`; nothing is assembled as
source text.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import time
import traceback

SCHEMA = "cnngrader.evidence/1"
_ACTIVE = None


class Probe:
    def __init__(self, config: dict):
        self.evidence_path = config["evidence_path"]
        self.quick = bool(config.get("quick", False))
        self.fit_batches = int(config.get("fit_batches", 20))
        self.eval_samples = int(config.get("eval_samples", 256))
        self.serve_mnist = bool(config.get("serve_mnist", False))
        self.serve_cifar100 = bool(config.get("serve_cifar100", False))
        self.cell: int | None = None
        self.records: list[dict] = []
        self.models: list = []
        self.ids: dict[int, int] = {}
        self.fits: list[dict] = []
        self.saves: list[dict] = []
        self.errors: list[dict] = []
        self.entry_points: dict[str, str] = {}
        self.weights: list[dict] = []
        self.exports: list[dict] = []
        self.export_dir = config.get("export_dir")
        self.loading = 0
        self.keras_mode = 2 if config.get("keras") == 2 else 3
        self.package = "tf_keras" if self.keras_mode == 2 else "keras"
        """The module the submission's Keras is: tf_keras in Keras 2 mode (which `import keras`
        and `tensorflow.keras` then both give), else keras."""
        self.started = time.monotonic()

    def install(self) -> None:
        """Watch Keras from the moment it is imported: now if it already is, else through an
        import hook, so a run that never imports Keras does not pay for TensorFlow."""
        self.keras = None
        if self.keras_mode == 2:
            from grader.runner import keras2

            keras2.alias()
        if self.package in sys.modules:
            self._watch_keras(sys.modules[self.package])
        else:
            sys.meta_path.insert(0, _KerasImportHook(self))
        try:
            shell = get_ipython()  # noqa: F821 - defined inside IPython kernels only
        except NameError:
            shell = None
        if shell is not None:
            shell.events.register("post_run_cell", self._after_cell)
            self.shell = shell
        else:
            self.shell = None

    def _watch_keras(self, keras) -> None:
        if self.keras is not None:
            return
        self.keras = keras
        model_class = keras.Model
        self._wrap_init(model_class)
        self._wrap_fit(model_class)
        self._wrap_shortened(model_class, "evaluate")
        self._wrap_shortened(model_class, "predict")
        self._save_for_export = model_class.save
        self._wrap_save(model_class)
        self._wrap_load(keras)
        if self.serve_mnist:
            _serve_mnist_offline(self.package)
        if self.serve_cifar100:
            _serve_cifar100_offline(self.package)

    def at_cell(self, number: int) -> None:
        self.cell = number

    def register(self, model, origin: str = "built", name: str | None = None) -> int:
        key = id(model)
        if key not in self.ids:
            self.ids[key] = len(self.models)
            self.models.append(model)
            self.records.append({"id": self.ids[key], "cell": self.cell, "names": [],
                                 "origin": "loaded" if self.loading else origin})
        record = self.records[self.ids[key]]
        if record["origin"] == "built" and origin != "built":
            record["origin"] = origin  # built at creation, then returned by an entry point
        if name and name not in record["names"]:
            record["names"].append(name)
        return self.ids[key]

    def _wrap_init(self, model_class) -> None:
        original = model_class.__init__
        probe = self

        def __init__(self, *args, **kwargs):
            if _built_by_keras_itself(probe.package):
                return original(self, *args, **kwargs)
            probe.register(self)
            result = original(self, *args, **kwargs)
            probe.record_weights(self, "initial", once=True)
            return result

        model_class.__init__ = __init__

    def _wrap_fit(self, model_class) -> None:
        original = model_class.fit
        signature = inspect.signature(original)
        probe = self

        def fit(self, *args, **kwargs):
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError:
                return original(self, *args, **kwargs)  # let Keras raise its own error
            arguments = bound.arguments
            requested = arguments.get("epochs", 1)
            if probe.quick:
                probe._cap_fit(arguments)
            model_id = probe.register(self)
            entry = {
                "cell": probe.cell, "model_id": model_id, "index": len(probe.fits),
                "epochs_requested": requested if isinstance(requested, int) else None,
                "capped": probe.quick, "callbacks": _describe_callbacks(arguments.get("callbacks")),
                "batch_size": arguments.get("batch_size") if isinstance(arguments.get("batch_size"), int) else None,
                "samples": _length(arguments.get("x")), "history": {},
            }
            probe.record_weights(self, "initial", once=True)
            probe.record_weights(self, "fit_start", fit=entry["index"])
            watcher = _FitWatcher(probe, entry)
            arguments["callbacks"] = [*(arguments.get("callbacks") or []), watcher]
            history = original(*bound.args, **bound.kwargs)
            entry["history"] = _plain(getattr(history, "history", {}))
            entry["epochs_run"] = watcher.epochs
            probe.record_trained(self, "fit_end", fit=entry["index"])
            probe.fits.append(entry)
            return history

        model_class.fit = fit

    def _cap_fit(self, arguments: dict) -> None:
        batch = arguments.get("batch_size") or 32
        samples = self.fit_batches * int(batch)
        arguments["epochs"] = 1
        arguments["initial_epoch"] = 0
        for key in ("x", "y", "sample_weight"):
            arguments[key] = _head(arguments.get(key), samples)
        if _sliceable(arguments.get("x")):
            arguments.pop("steps_per_epoch", None)
        elif arguments.get("x") is not None:
            arguments["steps_per_epoch"] = self.fit_batches
        validation = arguments.get("validation_data")
        if isinstance(validation, (tuple, list)):
            arguments["validation_data"] = tuple(_head(part, self.eval_samples) for part in validation)
        elif validation is not None:
            arguments["validation_steps"] = max(1, self.eval_samples // 32)

    def _wrap_shortened(self, model_class, method: str) -> None:
        """In quick mode, `evaluate` and `predict` see only the first `eval_samples` samples."""
        original = getattr(model_class, method)
        signature = inspect.signature(original)
        probe = self

        def shortened(self, *args, **kwargs):
            if not probe.quick:
                return original(self, *args, **kwargs)
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError:
                return original(self, *args, **kwargs)  # let Keras raise its own error
            arguments = bound.arguments
            for key in ("x", "y", "sample_weight"):
                if key in arguments:
                    arguments[key] = _head(arguments[key], probe.eval_samples)
            if "x" in arguments and not _sliceable(arguments["x"]) and arguments.get("steps") is None:
                arguments["steps"] = max(1, probe.eval_samples // 32)
            return original(*bound.args, **bound.kwargs)

        setattr(model_class, method, shortened)

    def _wrap_save(self, model_class) -> None:
        original = model_class.save
        probe = self

        def save(self, filepath, *args, **kwargs):
            probe.record_weights(self, "initial", once=True)
            entry = {"cell": probe.cell, "model_id": probe.register(self), "path": str(filepath), "ok": False}
            probe.saves.append(entry)
            try:
                result = original(self, filepath, *args, **kwargs)
            except Exception as error:
                entry["error"] = f"{type(error).__name__}: {error}"[:2000]
                raise
            entry["ok"] = True
            probe.record_weights(self, "save", path=str(filepath))
            return result

        model_class.save = save

    def _wrap_load(self, keras) -> None:
        original = keras.models.load_model
        probe = self

        def load_model(*args, **kwargs):
            probe.loading += 1
            try:
                model = original(*args, **kwargs)
            finally:
                probe.loading -= 1
            model_id = probe.register(model, origin="loaded")
            path = args[0] if args else kwargs.get("filepath")
            probe.records[model_id].setdefault("source_path", str(path))
            probe.record_weights(model, "load", path=str(path))
            return model

        for module in _api_modules(LOAD_MODULES[self.package]):
            if getattr(module, "load_model", None) is original:
                module.load_model = load_model

    def _after_cell(self, result=None) -> None:
        self.snapshot()

    def snapshot(self) -> None:
        """Name every model by the variables that now hold it, then write the evidence file."""
        namespace = self.shell.user_ns if self.shell is not None and self.keras is not None else {}
        for name, value in list(namespace.items()):
            # type(), not isinstance(): an object can claim any __class__.
            if name.startswith("_") or not issubclass(type(value), self.keras.Model):
                continue
            self.register(value, name=name)
        for model in self.models:
            self.record_weights(model, "initial", once=True)
        self.write()

    def record_weights(self, model, event: str, once: bool = False, **where) -> None:
        """A fingerprint of the model's weights now: with `once`, only if none was taken yet."""
        model_id = self.register(model)
        if once and any(item["model_id"] == model_id for item in self.weights):
            return
        fingerprint = weight_fingerprint(model)
        if fingerprint is None:
            return
        self.weights.append({"model_id": model_id, "event": event, "cell": self.cell, **where, **fingerprint})

    def record_trained(self, model, event: str, **where) -> None:
        """A fingerprint of a model being trained and of every recorded model inside it: an
        extractor trained as part of its classifier has trained weights of its own."""
        self.record_weights(model, event, **where)
        for layer in getattr(model, "layers", []):
            if id(layer) in self.ids and layer is not model:
                self.record_weights(layer, event, **where)

    def export(self) -> None:
        """Save every model that has weights into the grader's folder, for the evaluation process.

        The export uses Keras's own `save`, taken before the submission ran, so a notebook that
        replaces `Model.save` does not decide what the grader evaluates."""
        if not self.export_dir:
            return
        for model_id, model in enumerate(self.models[:MAX_EXPORTS]):
            if not getattr(model, "weights", None):
                continue
            name = f"model-{model_id}.keras"
            entry = {"model_id": model_id, "file": name}
            try:
                self._save_for_export(model, os.path.join(self.export_dir, name))
                self.record_weights(model, "export")
            except Exception as error:  # noqa: BLE001 - an unsavable model is evidence too
                entry = {"model_id": model_id, "error": f"{type(error).__name__}: {error}"[:1000]}
            self.exports.append(entry)

    def finish(self, token: str | None = None) -> None:
        """The end of the run: name the models, export them, write the evidence (with the token
        the grader's last cell hands over, which no earlier write can know)."""
        self.token = token
        if self.shell is not None:
            self.snapshot()
        self.export()
        self.write()

    def write(self) -> None:
        payload = {
            "schema": SCHEMA,
            "models": [self._describe(model, record) for model, record in zip(self.models, self.records)],
            "fits": self.fits,
            "saves": self.saves,
            "errors": self.errors,
            "entry_points": self.entry_points,
            "weights": self.weights,
            "exports": self.exports,
            "meta": {"probe_seconds": round(time.monotonic() - self.started, 2), "quick": self.quick,
                     "token": getattr(self, "token", None),
                     "keras": getattr(self.keras, "__version__", None),
                     "backend": self.keras.backend.backend() if self.keras is not None else None},
        }
        temporary = self.evidence_path + ".tmp"
        with open(temporary, "w") as handle:
            json.dump(payload, handle, default=str)
        os.replace(temporary, self.evidence_path)

    def _describe(self, model, record: dict) -> dict:
        description = {**record, "class_name": type(model).__name__}
        try:
            description["config"] = _plain(model.get_config())
            if not isinstance(description["config"], dict):
                raise TypeError(f"get_config() returned {type(description['config']).__name__}, not a dict")
        except Exception as error:  # a half-built model may refuse; that is evidence too
            description["config"] = None
            description["config_error"] = f"{type(error).__name__}: {error}"[:1000]
        description["reported"] = _reported(model)
        description["submodels"] = [self.ids[id(layer)] for layer in getattr(model, "layers", [])
                                     if id(layer) in self.ids]
        return description


MAX_EXPORTS = 32
CALLBACK_SETTINGS = ("monitor", "patience", "restore_best_weights", "min_delta", "mode", "filepath",
                     "save_best_only", "save_weights_only", "start_from_epoch")


class _KerasImportHook:
    """A meta-path finder that lets Keras (`keras`, or `tf_keras` in Keras 2 mode) import as
    usual, then hands the module to the probe."""

    def __init__(self, probe: Probe):
        self.probe = probe
        self.busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.probe.package or self.busy:
            return None
        import importlib.util

        self.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _ThenWatch(spec.loader, self)
        return spec


class _ThenWatch:
    """The keras package's own loader, followed by the probe's wrapping of the imported module."""

    def __init__(self, loader, hook: _KerasImportHook):
        self._loader = loader
        self._hook = hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        if self._hook in sys.meta_path:
            sys.meta_path.remove(self._hook)
        self._hook.probe._watch_keras(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _FitWatcher:
    """Added to every `fit`: a fingerprint after each epoch, and the steps Keras actually ran."""

    def __new__(cls, probe: Probe, entry: dict):
        class Watcher(probe.keras.callbacks.Callback):
            epochs = 0

            def on_train_begin(self, logs=None):
                entry["steps_per_epoch"] = (self.params or {}).get("steps")

            def on_train_batch_begin(self, batch, logs=None):
                if batch == 0 and self.epochs == 0:
                    probe.record_weights(self.model, "initial", once=True)

            def on_epoch_end(self, epoch, logs=None):
                self.epochs += 1
                probe.record_trained(self.model, "epoch_end", fit=entry["index"], epoch=epoch + 1)

        return Watcher()


def weight_fingerprint(model) -> dict | None:
    """A hash of all the model's weights, and a hash and standard deviation per tensor."""
    try:
        variables = list(model.weights)
        if not variables:
            return None
        import numpy as np

        whole = hashlib.sha256()
        tensors = []
        for variable in variables:
            values = np.ascontiguousarray(np.asarray(variable))
            digest = hashlib.sha256(values.tobytes()).hexdigest()[:16]
            whole.update(digest.encode())
            tensors.append([str(getattr(variable, "path", getattr(variable, "name", "?"))), digest,
                            round(float(values.std()), 6) if values.size else 0.0])
        return {"digest": whole.hexdigest()[:24], "tensors": tensors}
    except Exception:  # noqa: BLE001 - an unbuilt model has no weights to take
        return None


def _describe_callbacks(callbacks) -> list[dict]:
    described = []
    for callback in callbacks or []:
        settings = {}
        for key in CALLBACK_SETTINGS:
            value = getattr(callback, key, None)
            if isinstance(value, (bool, int, float, str)):
                settings[key] = value
        described.append({"class_name": type(callback).__name__, "settings": settings})
    return described


def _length(value) -> int | None:
    try:
        return int(len(value)) if _sliceable(value) else None
    except TypeError:
        return None


def _serve_mnist_offline(package: str) -> None:
    """Keras's MNIST loader insists on downloading (it checks the archive's hash); serve ours.

    The full set where the data layer finds it, else the mnist-10k subset, said out loud.
    """
    from grader import data

    def load_data(path: str = "mnist.npz"):
        try:
            return data.load_mnist(download=False)
        except data.DataUnavailable:
            print("cnngrader: the full MNIST set is not available here; serving the mnist-10k subset "
                  "(8,000 training and 2,000 test images)", file=sys.stderr)
            return data.load_mnist_10k()

    _replace_loader(package, "mnist", load_data)


def _serve_cifar100_offline(package: str) -> None:
    """Keras's CIFAR-100 loader also insists on its own downloaded archive; serve the data layer's."""
    from grader import data

    def load_data(label_mode: str = "fine"):
        return data.load_cifar100(label_mode=label_mode, download=False)

    _replace_loader(package, "cifar100", load_data)


LOAD_MODULES = {
    "keras": ("keras.models", "keras.saving", "keras._tf_keras.keras.models", "keras._tf_keras.keras.saving"),
    "tf_keras": ("tf_keras.models", "tf_keras.saving", "tf_keras.api._v2.keras.models",
                 "tf_keras.api._v2.keras.saving"),
}
"""Where each Keras's `load_model` can be reached from: its API and the API `tensorflow.keras`
gives (tf-keras's is a module tree of its own, so `tf.keras.models.load_model` is patched there)."""


def _api_modules(names):
    import importlib

    for name in names:
        try:
            yield importlib.import_module(name)
        except ImportError:
            continue


LOADER_MODULES = {
    "keras": ("keras.datasets", "keras._tf_keras.keras.datasets", "keras.src.datasets"),
    "tf_keras": ("tf_keras.datasets", "tf_keras.api._v2.keras.datasets", "tf_keras.src.datasets"),
}
"""Where each Keras keeps its dataset loaders: its API, the API `tensorflow.keras` gives, and the
implementation."""


def _replace_loader(package: str, dataset: str, load_data) -> None:
    """Put `load_data` in every module through which a notebook may reach the Keras loader."""
    import importlib

    for prefix in LOADER_MODULES[package]:
        try:
            importlib.import_module(f"{prefix}.{dataset}").load_data = load_data
        except ImportError:
            continue


SEQUENTIAL_SOURCES = {"keras": os.path.join("keras", "src", "models", "sequential.py"),
                      "tf_keras": os.path.join("tf_keras", "src", "engine", "sequential.py")}


def _built_by_keras_itself(package: str = "keras") -> bool:
    """True for the Functional model a Sequential builds inside itself: not the student's.
    (Keras 3 does so; tf-keras's Sequential is itself the graph network, so none shows up.)"""
    source = SEQUENTIAL_SOURCES[package]
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(source) and frame.f_code.co_name != "__init__":
            return True
        frame = frame.f_back
    return False


def _reported(model) -> dict:
    """What Keras says about the model in this process: kept for instructors, never graded."""
    layers = []
    for layer in getattr(model, "layers", []):
        entry = {"name": layer.name, "class_name": type(layer).__name__}
        try:
            entry["output_shape"] = [None if d is None else int(d) for d in layer.output.shape]
        except Exception:
            pass
        try:
            entry["params"] = int(layer.count_params())
        except Exception:
            pass
        layers.append(entry)
    reported = {"layers": layers}
    try:
        reported["params"] = int(model.count_params())
    except Exception:
        pass
    return reported


def _sliceable(value) -> bool:
    return hasattr(value, "__len__") and hasattr(value, "__getitem__") and not isinstance(value, (str, bytes, dict))


def _head(value, count: int):
    if isinstance(value, (list, tuple)) and value and all(_sliceable(v) and hasattr(v, "shape") for v in value):
        return type(value)(v[:count] for v in value)
    if isinstance(value, dict):
        return {k: _head(v, count) for k, v in value.items()}
    if _sliceable(value) and hasattr(value, "shape"):
        return value[:count]
    return value


def _plain(value):
    """Keras configs and histories as JSON-safe data (tuples to lists, numbers to float)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def install(config_path: str) -> Probe:
    """Called by the runner's first, hidden cell (or by the module worker)."""
    global _ACTIVE
    with open(config_path) as handle:
        config = json.load(handle)
    _ACTIVE = Probe(config)
    _ACTIVE.install()
    return _ACTIVE


def active() -> Probe:
    return _ACTIVE


def format_exception(error: BaseException, filename: str | None = None) -> dict:
    """An exception as evidence: name, value, plain traceback and the line in `filename`."""
    frames = traceback.extract_tb(error.__traceback__)
    line = None
    if isinstance(error, SyntaxError) and error.lineno:
        line = error.lineno
    for frame in frames:
        if filename and os.path.basename(frame.filename) == os.path.basename(filename):
            line = frame.lineno
    return {
        "ename": type(error).__name__,
        "evalue": str(error)[:4000],
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__))[-8000:],
        "line": line,
    }
