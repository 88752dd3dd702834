"""Hand-written Keras 3 model configs, shaped like `model.get_config()` under Keras 3.15.

Each builder returns the plain dict Keras would serialise (the keys the grader reads, plus enough
of the rest to look real), so the pure tests need no TensorFlow. Layer names follow a fresh Keras
session (`conv2d`, `conv2d_1`, ...) so tests can point at them.
"""

from __future__ import annotations

from grader.evidence import Evidence, ModelRecord

DTYPE = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def _pair(value) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def layer(class_name: str, name: str, **settings) -> dict:
    """One serialised layer as it appears in a Sequential config's `layers`."""
    config = {"name": name, "trainable": True, "dtype": DTYPE, **settings}
    return {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None}


def input_layer(shape: tuple, name: str = "input_layer") -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None, *shape], "dtype": "float32", "sparse": False, "ragged": False,
                       "name": name, "optional": False},
            "registered_name": None}


def conv2d(name: str, filters: int, kernel=3, strides=1, padding: str = "valid", activation: str = "linear",
           dilation=1, use_bias: bool = True) -> dict:
    return layer("Conv2D", name, filters=filters, kernel_size=_pair(kernel), strides=_pair(strides),
                 padding=padding, data_format="channels_last", dilation_rate=_pair(dilation), groups=1,
                 activation=activation, use_bias=use_bias, kernel_regularizer=None, bias_regularizer=None)


def _pooling(class_name: str, name: str, pool, strides, padding: str) -> dict:
    return layer(class_name, name, pool_size=_pair(pool), padding=padding,
                 strides=_pair(strides if strides is not None else pool), data_format="channels_last")


def max_pool(name: str, pool=2, strides=None, padding: str = "valid", class_name: str = "MaxPooling2D") -> dict:
    return _pooling(class_name, name, pool, strides, padding)


def avg_pool(name: str, pool=2, strides=None, padding: str = "valid") -> dict:
    return _pooling("AveragePooling2D", name, pool, strides, padding)


def dense(name: str, units: int, activation: str = "linear", use_bias: bool = True) -> dict:
    return layer("Dense", name, units=units, activation=activation, use_bias=use_bias,
                 kernel_regularizer=None, quantization_config=None)


def flatten(name: str = "flatten") -> dict:
    return layer("Flatten", name, data_format="channels_last")


def dropout(name: str = "dropout", rate: float = 0.4) -> dict:
    return layer("Dropout", name, rate=rate, seed=None, noise_shape=None)


def batch_norm(name: str) -> dict:
    return layer("BatchNormalization", name, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 synchronized=False, renorm=False)


def activation(name: str, function: str = "relu") -> dict:
    return layer("Activation", name, activation=function)


def sequential(layers: list[dict], input_shape: tuple | None = None, name: str = "sequential") -> dict:
    """A Sequential config; with `input_shape` it starts with the InputLayer entry Keras writes."""
    config = {"name": name, "trainable": True, "dtype": DTYPE, "layers": list(layers)}
    if input_shape is not None:
        config["layers"].insert(0, input_layer(input_shape))
        config["build_input_shape"] = [None, *input_shape]
    return config


def inbound(*sources: str) -> list[dict]:
    """`inbound_nodes` of a layer called on the outputs of `sources` (a list of them for Add, Concatenate)."""
    tensors = [{"class_name": "__keras_tensor__",
                "config": {"shape": None, "dtype": "float32", "keras_history": [source, 0, 0]}}
               for source in sources]
    return [{"args": tensors if len(tensors) == 1 else [tensors], "kwargs": {}}]


def functional(layers: list[dict], input_shape: tuple, name: str = "functional",
               input_name: str = "input_layer") -> dict:
    """A Functional config chaining `layers` one after the other from one input."""
    entries = [{**input_layer(input_shape, input_name), "name": input_name, "inbound_nodes": []}]
    previous = input_name
    for entry in layers:
        layer_name = entry["config"]["name"]
        entries.append({**entry, "name": layer_name, "inbound_nodes": inbound(previous)})
        previous = layer_name
    return {"name": name, "trainable": True, "layers": entries,
            "input_layers": [input_name, 0, 0], "output_layers": [previous, 0, 0]}


def nested(model_config: dict) -> dict:
    """A Functional model used as a layer of another model."""
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": model_config,
            "registered_name": "Functional", "build_config": {"input_shape": None}}


def record(model_id: int, config: dict | None, names: tuple[str, ...] = ("model",),
           class_name: str = "Sequential", cell: int | None = None) -> ModelRecord:
    return ModelRecord(id=model_id, cell=cell, names=names, class_name=class_name, config=config)


def evidence(*records: ModelRecord) -> Evidence:
    return Evidence(kind="notebook", models=tuple(records))


# --- Layer lists of the seed notebooks' models ----------------------------------------------

def fashion_cnn_layers() -> list[dict]:
    """Seeds 000/001: the textbook Fashion-MNIST CNN (333,526 parameters)."""
    return [
        conv2d("conv2d", 32, padding="same", activation="relu"),
        max_pool("max_pooling2d"),
        conv2d("conv2d_1", 64, padding="same", activation="relu"),
        max_pool("max_pooling2d_1"),
        flatten("flatten"),
        dense("dense", 100, activation="relu"),
        dropout("dropout", 0.4),
        dense("dense_1", 10, activation="softmax"),
    ]


def fashion_cnn(input_shape: tuple = (28, 28, 1)) -> dict:
    return sequential(fashion_cnn_layers(), input_shape)


def avg_pool_cnn() -> dict:
    """Seed 001's pooling experiment: 3x3 average pooling and 32 filters twice (39,478)."""
    return sequential([
        conv2d("conv2d", 32, padding="same", activation="relu"),
        avg_pool("average_pooling2d", 3),
        conv2d("conv2d_1", 32, padding="same", activation="relu"),
        avg_pool("average_pooling2d_1", 3),
        flatten("flatten"),
        dense("dense", 100, activation="relu"),
        dropout("dropout", 0.4),
        dense("dense_1", 10, activation="softmax"),
    ], (28, 28, 1))


def dense_baseline() -> dict:
    """Seed 002's dense baseline on unflattened 28x28 images (101,770)."""
    return sequential([flatten("flatten"), dense("dense", 128, "relu"), dense("dense_1", 10, "softmax")], (28, 28))


def coursera_cnn() -> dict:
    """Seed 002: two 'valid' 3x3 convolutions of 64 filters (243,786)."""
    return sequential([
        conv2d("conv2d", 64, activation="relu"),
        max_pool("max_pooling2d"),
        conv2d("conv2d_1", 64, activation="relu"),
        max_pool("max_pooling2d_1"),
        flatten("flatten"),
        dense("dense", 128, activation="relu"),
        dense("dense_1", 10, activation="softmax"),
    ], (28, 28, 1))


def mnist_dense10() -> dict:
    """Seed 003: one Dense(10) on the 784 pixels (7,850)."""
    return sequential([dense("dense", 10, "softmax")], (784,))


def mnist_mlp() -> dict:
    """Seed 003: two hidden layers of 100, then a Flatten that changes nothing (89,610)."""
    return sequential([dense("dense", 100, "relu"), dense("dense_1", 100, "relu"), flatten("flatten"),
                       dense("dense_2", 10, "softmax")], (784,))


def mnist_cnn() -> dict:
    """Seed 003: three 'valid' convolutions (61,514)."""
    return sequential([
        conv2d("conv2d", 32, activation="relu"),
        max_pool("max_pooling2d"),
        conv2d("conv2d_1", 64, activation="relu"),
        max_pool("max_pooling2d_1"),
        conv2d("conv2d_2", 64, activation="relu"),
        flatten("flatten"),
        dense("dense", 10, activation="softmax"),
    ], (28, 28, 1))


def conv_only(padding: str = "same") -> dict:
    """Seed 004's first model: one Conv2D(2, 3) on 32x32x3 images (56)."""
    return sequential([conv2d("conv2d", 2, padding=padding)], (32, 32, 3))


def strided_layers(pool: bool = False, classes: int = 3) -> list[dict]:
    """Seed 004's block loop: 4 x [Conv64 3x3 stride 2 same, BN, ReLU], with MaxPool2D if `pool`."""
    layers: list[dict] = []
    for block in range(4):
        suffix = f"_{block}" if block else ""
        layers += [conv2d(f"conv2d{suffix}", 64, strides=2, padding="same"),
                   batch_norm(f"batch_normalization{suffix}"),
                   activation(f"activation{suffix}", "relu")]
        if pool:
            layers.append(max_pool(f"max_pooling2d{suffix}"))
    return layers + [flatten("flatten"), dense("dense", classes, "softmax")]


def strided_cnn(classes: int = 3) -> dict:
    return sequential(strided_layers(pool=False, classes=classes), (32, 32, 3))


def pooled_strided_cnn() -> dict:
    """The strided CNN with MaxPool2D in every block: the map collapses in the third block."""
    return sequential(strided_layers(pool=True), (32, 32, 3), name="model_pool")


def extractor(name: str = "functional", input_name: str = "input_layer") -> dict:
    """Seed 004's shared extractor: 4 x [Conv128 same, BN, ReLU, MaxPool2] on 32x32x3 (448,384)."""
    layers: list[dict] = []
    for block in range(4):
        suffix = f"_{block}" if block else ""
        layers += [conv2d(f"conv2d{suffix}", 128, padding="same"), batch_norm(f"batch_normalization{suffix}"),
                   activation(f"activation{suffix}", "relu"), max_pool(f"max_pooling2d{suffix}")]
    return functional(layers, (32, 32, 3), name=name, input_name=input_name)


def classifier(classes: int = 3) -> dict:
    """The extractor nested as a layer, then Flatten and Dense(classes) (449,923 with 3 classes)."""
    inner = extractor(name="functional", input_name="input_layer")
    return functional([nested(inner), flatten("flatten"), dense("dense", classes, "softmax")], (32, 32, 3),
                      name="functional_1", input_name="input_layer_1")
