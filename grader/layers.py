"""Layer tables recomputed from a Keras model's config, never from what the model reports.

`table_from_config` walks a Sequential or Functional config (nested models included) with the
shape arithmetic of `shapes.py` and the parameter formulas of the layers the exercises use:
Input, Conv2D, pooling, Dense, Flatten, Dropout, BatchNormalization, Activation and friends.
A layer it does not know gets `None` for shape and parameters, so a check can say "could not
recompute" instead of guessing. A config it cannot read at all (a setting of the wrong type, a
required one missing, nesting deeper than any real model's) raises `UnreadableConfig`, naming
what it could not read, and nothing else. Pure: plain dicts in, frozen dataclasses out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .shapes import TraceStep, spatial_output

Shape = tuple  # (None, 28, 28, 32): batch axis first, None where unknown

CONV_CLASSES = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3}
POOL_CLASSES = {
    "MaxPooling1D": 1, "MaxPool1D": 1, "AveragePooling1D": 1, "AvgPool1D": 1,
    "MaxPooling2D": 2, "MaxPool2D": 2, "AveragePooling2D": 2, "AvgPool2D": 2,
    "MaxPooling3D": 3, "MaxPool3D": 3, "AveragePooling3D": 3, "AvgPool3D": 3,
}
GLOBAL_POOL_CLASSES = {
    "GlobalMaxPooling2D", "GlobalAveragePooling2D", "GlobalMaxPool2D", "GlobalAvgPool2D",
    "GlobalMaxPooling1D", "GlobalAveragePooling1D",
}
SHAPE_PRESERVING = {
    "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Rescaling", "Normalization",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "LayerNormalization", "ActivityRegularization", "Identity",
}
MODEL_CLASSES = {"Sequential", "Functional", "Model"}
# The settings a student can get wrong, per layer class; everything else in a config is noise.
SETTINGS = ("units", "filters", "kernel_size", "strides", "padding", "pool_size",
            "activation", "rate", "dilation_rate", "use_bias", "target_shape")
MAX_CONFIG_DEPTH = 100
"""How deeply lists and dicts may nest in a config the grader reads. A real model nests about
three levels per model inside it (a transfer model in a Sequential: 15); a deeper config is
refused before it is walked, so that walking it cannot exhaust Python's stack."""
MALFORMED = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError, RecursionError)
"""What reading a config of the wrong shape raises: a string where a number goes, a key missing,
a list where a dict goes."""
PROBLEM_LIMIT = 200


class UnreadableConfig(ValueError):
    """A model config the grader cannot read; the message says what could not be read."""


@dataclass(frozen=True)
class LayerRow:
    """One row of a layer table, as `model.summary()` would print it, but recomputed."""

    name: str
    """The layer's name in the model (`conv2d_1`)."""
    class_name: str
    """Keras class (`Conv2D`, `MaxPooling2D`, `Functional` for a nested model)."""
    output_shape: Shape | None
    """Output shape with the batch axis as None; None when it could not be recomputed."""
    params: int | None
    """Total parameter count; None when the layer is unknown to the calculator."""
    trainable_params: int | None
    """Parameters updated by training (BatchNormalization's moving statistics are not)."""
    settings: dict = field(default_factory=dict, compare=False, hash=False)
    """The settings that matter for grading: filters, kernel_size, strides, padding, ..."""
    children: tuple["LayerRow", ...] = ()
    """For a nested model, its own rows."""

    @property
    def non_trainable_params(self) -> int | None:
        if self.params is None or self.trainable_params is None:
            return None
        return self.params - self.trainable_params

    def to_json(self) -> dict:
        data = {
            "name": self.name,
            "class_name": self.class_name,
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "settings": self.settings,
        }
        if self.children:
            data["children"] = [child.to_json() for child in self.children]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "LayerRow":
        shape = data.get("output_shape")
        return cls(
            name=data["name"],
            class_name=data["class_name"],
            output_shape=tuple(shape) if shape is not None else None,
            params=data.get("params"),
            trainable_params=data.get("trainable_params"),
            settings=dict(data.get("settings") or {}),
            children=tuple(cls.from_json(child) for child in data.get("children", ())),
        )


@dataclass(frozen=True)
class LayerTable:
    """A model's recomputed table, the input it was traced from, and the spatial trace."""

    name: str
    class_name: str
    input_shape: Shape | None
    rows: tuple[LayerRow, ...]
    trace: tuple[TraceStep, ...] = ()
    """Every convolution and pooling step with its map size in and out, in order."""
    unknown_layers: tuple[str, ...] = ()
    """Layers whose shape or parameters the calculator could not recompute."""

    @property
    def params(self) -> int | None:
        counts = [row.params for row in self.rows]
        return None if any(c is None for c in counts) else sum(counts)

    @property
    def trainable_params(self) -> int | None:
        counts = [row.trainable_params for row in self.rows]
        return None if any(c is None for c in counts) else sum(counts)

    @property
    def output_shape(self) -> Shape | None:
        return self.rows[-1].output_shape if self.rows else None

    @property
    def collapse(self) -> TraceStep | None:
        """The first convolution or pooling step whose output is empty, if any."""
        return next((step for step in self.trace if step.collapsed), None)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "class_name": self.class_name,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "layers": [row.to_json() for row in self.rows],
            "totals": {
                "params": self.params,
                "trainable": self.trainable_params,
                "non_trainable": None if self.params is None else self.params - self.trainable_params,
            },
        }


def table_from_config(class_name: str, config: dict, input_shape: Shape | None = None) -> LayerTable:
    """Recompute the layer table of a serialised Keras model (`model.get_config()`); raise
    `UnreadableConfig` for a config that cannot be read."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        # A subclass of keras.Model serialises its __init__ arguments, not its layers.
        raise UnreadableConfig("its config lists no layers, as a subclass of keras.Model's does")
    depth = nesting_depth(config, MAX_CONFIG_DEPTH)
    if depth > MAX_CONFIG_DEPTH:
        raise UnreadableConfig(f"its config nests more than {MAX_CONFIG_DEPTH} levels deep, deeper than "
                               "any model the grader reads")
    try:
        return _table(class_name, config, input_shape)
    except UnreadableConfig:
        raise
    except MALFORMED as error:
        raise UnreadableConfig(f"its config: {_error_text(error)}") from error


def nesting_depth(value, limit: int) -> int:
    """How deeply lists and dicts nest in `value` (a scalar is 0), counted without recursion and
    no further than one level past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _error_text(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= PROBLEM_LIMIT else text[: PROBLEM_LIMIT - 1] + "…"


def _table(class_name: str, config: dict, input_shape: Shape | None = None) -> LayerTable:
    if class_name == "Sequential":
        return _sequential_table(config, input_shape)
    if "input_layers" in config or any("inbound_nodes" in layer for layer in config.get("layers", [])):
        return _functional_table(class_name, config)
    return _sequential_table(config, input_shape)


def _sequential_table(config: dict, input_shape: Shape | None) -> LayerTable:
    layers = list(config.get("layers", []))
    shape = _shape(input_shape) or _shape(config.get("build_input_shape"))
    if shape is None and layers:
        first = layers[0]
        first_config = first.get("config", {})
        shape = _shape(first_config.get("batch_shape") or first_config.get("batch_input_shape")) or _shape(
            (first.get("build_config") or {}).get("input_shape")
        )
    tracer = _Tracer()
    start = shape
    for layer in layers:
        shape = tracer.add(layer, shape)
    return LayerTable(
        name=config.get("name", "sequential"),
        class_name="Sequential",
        input_shape=start,
        rows=tuple(row for row in tracer.rows if row.class_name != "InputLayer"),
        trace=tuple(tracer.trace),
        unknown_layers=tuple(tracer.unknown),
    )


def _functional_table(class_name: str, config: dict) -> LayerTable:
    tracer = _Tracer()
    outputs: dict[str, Shape | None] = {}
    start = None
    for layer in config.get("layers", []):
        sources = _inbound_layers(layer)
        if layer.get("class_name") == "InputLayer":
            incoming = None
        elif len(sources) == 1:
            incoming = outputs.get(sources[0])
        else:
            incoming = None
            tracer.unknown.append(layer.get("name") or layer.get("config", {}).get("name", "?"))
        outputs[_layer_name(layer)] = tracer.add(layer, incoming)
        if layer.get("class_name") == "InputLayer" and start is None:
            start = outputs[_layer_name(layer)]
    return LayerTable(
        name=config.get("name", "functional"),
        class_name=class_name if class_name in MODEL_CLASSES else "Functional",
        input_shape=start,
        rows=tuple(row for row in tracer.rows if row.class_name != "InputLayer"),
        trace=tuple(tracer.trace),
        unknown_layers=tuple(tracer.unknown),
    )


class _Tracer:
    """Accumulates rows while walking layers in order; the state of one `table_from_config` call."""

    def __init__(self) -> None:
        self.rows: list[LayerRow] = []
        self.trace: list[TraceStep] = []
        self.unknown: list[str] = []

    def add(self, layer: dict, shape: Shape | None) -> Shape | None:
        """Add one layer's row; a layer that cannot be read raises `UnreadableConfig` naming it."""
        try:
            return self._add(layer, shape)
        except UnreadableConfig:
            raise
        except MALFORMED as error:
            raise UnreadableConfig(f"layer {_layer_label(layer)}: {_error_text(error)}") from error

    def _add(self, layer: dict, shape: Shape | None) -> Shape | None:
        class_name = layer.get("class_name", "?")
        config = layer.get("config", {})
        name = config.get("name") or layer.get("name") or class_name.lower()
        if not (isinstance(class_name, str) and isinstance(name, str) and isinstance(config, dict)):
            raise TypeError("a layer's class_name and name must be strings and its config a dict")
        if class_name in MODEL_CLASSES:
            nested = _table(class_name, config, shape)
            self.trace.extend(nested.trace)
            self.unknown.extend(nested.unknown_layers)
            self.rows.append(LayerRow(name, class_name, nested.output_shape, nested.params,
                                      nested.trainable_params, {}, nested.rows))
            return nested.output_shape
        if class_name == "InputLayer":
            out = _shape(config.get("batch_shape") or config.get("batch_input_shape"))
            if out is None and config.get("shape") is not None:
                out = (None, *config["shape"])
            self.rows.append(LayerRow(name, class_name, out, 0, 0, {}))
            return out
        out, params, trainable = self._compute(class_name, config, shape, name)
        if (out is None and shape is not None or params is None) and name not in self.unknown:
            self.unknown.append(name)
        self.rows.append(LayerRow(name, class_name, out, params, trainable, settings_of(config)))
        return out

    def _compute(self, class_name: str, config: dict, shape: Shape | None, name: str):
        if class_name in CONV_CLASSES:
            return self._conv(class_name, config, shape, name)
        if class_name in POOL_CLASSES:
            return self._pool(class_name, config, shape, name)
        if class_name == "Dense":
            units = int(config["units"])
            if shape is None or shape[-1] is None:
                return None, None, None
            params = shape[-1] * units + (units if config.get("use_bias", True) else 0)
            return (*shape[:-1], units), params, params if config.get("trainable", True) else 0
        if class_name == "Flatten":
            if shape is None or any(d is None for d in shape[1:]):
                return None, 0, 0
            return (None, math.prod(shape[1:])), 0, 0
        if class_name == "BatchNormalization":
            if shape is None:
                return None, None, None
            channels = shape[_axis(config.get("axis", -1), len(shape))]
            learned = channels * (int(config.get("center", True)) + int(config.get("scale", True)))
            return shape, learned + 2 * channels, learned if config.get("trainable", True) else 0
        if class_name in GLOBAL_POOL_CLASSES:
            if shape is None:
                return None, 0, 0
            channels_last = config.get("data_format", "channels_last") != "channels_first"
            channels = shape[-1] if channels_last else shape[1]
            if config.get("keepdims"):
                return (None, *([1] * (len(shape) - 2)), channels), 0, 0
            return (None, channels), 0, 0
        if class_name == "Reshape":
            target = tuple(config.get("target_shape", ()))
            if -1 in target and shape is not None and None not in shape[1:]:
                known = math.prod(d for d in target if d != -1)
                target = tuple(math.prod(shape[1:]) // known if d == -1 else d for d in target)
            return (None, *target), 0, 0
        if class_name in SHAPE_PRESERVING:
            return shape, 0, 0
        return None, None, None

    def _conv(self, class_name: str, config: dict, shape: Shape | None, name: str):
        rank = CONV_CLASSES[class_name]
        kernel = _tuple(config["kernel_size"], rank)
        filters = int(config["filters"])
        if shape is None or len(shape) != rank + 2:
            return None, None, None
        channels_first = config.get("data_format") == "channels_first"
        size = shape[2:] if channels_first else shape[1:-1]
        channels = shape[1] if channels_first else shape[-1]
        out = spatial_output(size, kernel, _tuple(config.get("strides", 1), rank),
                             config.get("padding", "valid"), _tuple(config.get("dilation_rate", 1), rank))
        self._record(name, class_name, size, out, kernel, config, rank)
        params = None
        if channels is not None:
            groups = int(config.get("groups", 1) or 1)
            params = math.prod(kernel) * (channels // groups) * filters
            params += filters if config.get("use_bias", True) else 0
        shape_out = (None, filters, *out) if channels_first else (None, *out, filters)
        return shape_out, params, params if config.get("trainable", True) else 0

    def _pool(self, class_name: str, config: dict, shape: Shape | None, name: str):
        rank = POOL_CLASSES[class_name]
        if shape is None or len(shape) != rank + 2:
            return None, 0, 0
        window = _tuple(config.get("pool_size", 2), rank)
        strides = _tuple(config.get("strides") or window, rank)
        channels_first = config.get("data_format") == "channels_first"
        size = shape[2:] if channels_first else shape[1:-1]
        out = spatial_output(size, window, strides, config.get("padding", "valid"))
        self._record(name, class_name, size, out, window, {**config, "strides": strides}, rank)
        shape_out = (None, shape[1], *out) if channels_first else (None, *out, shape[-1])
        return shape_out, 0, 0

    def _record(self, name, class_name, size, out, window, config, rank) -> None:
        self.trace.append(TraceStep(
            layer=name, class_name=class_name, size_in=tuple(size), size_out=tuple(out),
            window=tuple(window), strides=_tuple(config.get("strides", 1), rank),
            padding=str(config.get("padding", "valid")).lower(),
        ))


def output_layers(config: dict) -> list[str] | None:
    """The names of the layers a functional config lists as its outputs, in order (Keras writes
    one output as `[name, node, tensor]`, several as a list or a dict of them); None when it lists
    none, as for a Sequential model. An entry that names no layer is ''."""
    outputs = config.get("output_layers")
    if not outputs:
        return None
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if not isinstance(outputs, list):
        return [""]
    if isinstance(outputs[0], str):
        outputs = [outputs]
    return [entry[0] if isinstance(entry, list) and entry and isinstance(entry[0], str) else ""
            for entry in outputs]


def settings_of(config: dict) -> dict:
    """The grading-relevant settings of a layer config, normalised (tuples as lists, names lower)."""
    settings = {}
    for key in SETTINGS:
        if key in config and config[key] is not None:
            value = config[key]
            if key == "activation":
                value = activation_name(value)
            elif isinstance(value, (list, tuple)):
                value = [int(v) if isinstance(v, (int, float)) and float(v).is_integer() else v for v in value]
            settings[key] = value
    return settings


def activation_name(value) -> str:
    """'relu' for 'relu', tf.nn.relu's serialised dict, or a {'class_name': 'ReLU'} entry.

    TensorFlow's own functions serialise under their internal names (tf.nn.softmax is
    softmax_v2): the version suffix is dropped so that they read as the Keras names."""
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, str):
            name = inner
        elif isinstance(inner, dict) and inner.get("name"):
            name = str(inner["name"])
        else:
            name = str(value.get("class_name", "?"))
    else:
        name = str(value)
    return name.lower().removesuffix("_v2")


def _inbound_layers(layer: dict) -> list[str]:
    names: list[str] = []
    for node in layer.get("inbound_nodes", []) or []:
        _collect_history(node, names)
    return names


def _collect_history(value, names: list[str]) -> None:
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history") if value.get("class_name") == "__keras_tensor__" else None
        if history:
            names.append(history[0])
            return
        for item in value.values():
            _collect_history(item, names)
    elif isinstance(value, (list, tuple)):
        if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
            names.append(value[0])  # Keras 2 style [name, node, tensor, kwargs]
            return
        for item in value:
            _collect_history(item, names)


def _layer_label(layer) -> str:
    """`dense` (Dense), as far as a layer's entry tells, for saying which layer could not be read."""
    if not isinstance(layer, dict):
        return f"entry {str(layer)[:40]!r}"
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    name = config.get("name") or layer.get("name")
    class_name = layer.get("class_name")
    label = f"`{str(name)[:60]}`" if name else "without a name"
    return f"{label} ({str(class_name)[:60]})" if class_name else label


def _layer_name(layer: dict) -> str:
    return layer.get("name") or layer.get("config", {}).get("name", "?")


def _shape(value) -> Shape | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return None
    shape = tuple(None if d is None else int(d) for d in value)
    return shape if shape else None


def _tuple(value, rank: int) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),) * rank


def _axis(axis, rank: int) -> int:
    if isinstance(axis, (list, tuple)):
        axis = axis[0]
    return axis if axis >= 0 else rank + axis
