"""The evaluation process: `python -I -m grader.runner.evaluator CONFIG`.

Started by the grader, it runs no student code: no submission file is on its path and its working
folder is empty. It loads each model file with `keras.saving.load_model(path, safe_mode=True,
compile=False)` (tf-keras's `load_model`, with the same settings, in Keras 2 mode), predicts the
evaluation images and writes the class probabilities as `.npy` beside a JSON report. It never sees a label: accuracy is computed in the grader's own process.

Inputs are given as the exercise prepares them (pixels 0..255); each model gets them reshaped to
its input and scaled to 0..1, as the exercises teach, unless the model rescales them itself.
"""

from __future__ import annotations

import json
import os
import sys
import time

RESCALING_LAYERS = ("Rescaling", "Normalization")
BATCH_SIZE = 256


def prepare(images, model):
    """The evaluation images in the shape and scale this model takes."""
    import numpy as np

    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else tuple(model.input_shape[1:])
    if None in shape or int(np.prod(shape)) != int(np.prod(images.shape[1:])):
        raise ValueError(f"the model takes inputs of shape {shape}, which the evaluation images "
                         f"{tuple(images.shape[1:])} do not fit")
    first = next((layer for layer in model.layers if type(layer).__name__ != "InputLayer"), None)
    scaled = images.astype("float32")
    if type(first).__name__ not in RESCALING_LAYERS:
        scaled /= 255.0
    return scaled.reshape((len(images), *shape))


def evaluate_one(keras, path: str, images, out_path: str) -> dict:
    import numpy as np

    started = time.monotonic()
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except BaseException as error:  # noqa: BLE001 - a file Keras refuses is a finding, not a crash
        return {"ok": False, "stage": "load", "ename": type(error).__name__, "evalue": str(error)[:2000]}
    try:
        probabilities = model.predict(prepare(images, model), batch_size=BATCH_SIZE, verbose=0)
        probabilities = np.asarray(probabilities, dtype="float32")
        if probabilities.ndim != 2 or len(probabilities) != len(images):
            raise ValueError(f"the model's output has shape {probabilities.shape}, not one row of class "
                             "scores per image")
    except BaseException as error:  # noqa: BLE001
        return {"ok": False, "stage": "predict", "ename": type(error).__name__, "evalue": str(error)[:2000]}
    np.save(out_path, probabilities, allow_pickle=False)
    return {"ok": True, "seconds": round(time.monotonic() - started, 2)}


def main(config_path: str) -> int:
    with open(config_path) as handle:
        config = json.load(handle)
    if config.get("keras") == 2:
        import tf_keras as keras
    else:
        import keras
    import numpy as np

    images = np.load(config["images"], allow_pickle=False)
    report = {"keras": keras.__version__, "backend": keras.backend.backend(), "models": {}}
    for entry in config["models"]:
        out_path = os.path.join(config["out"], f"{entry['key']}.npy")
        report["models"][entry["key"]] = evaluate_one(keras, entry["path"], images, out_path)
        with open(os.path.join(config["out"], "report.json"), "w") as handle:
            json.dump(report, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
