"""Parsing what the probe reports about training (grader/evidence.py): weight fingerprints,
exports, callbacks and submodels come back as plain data, and anything malformed is refused with
`EvidenceError`, never half-read (layer 1, no TensorFlow)."""

from __future__ import annotations

import copy

import pytest

from grader.evidence import (SCHEMA, CallbackRecord, EvidenceError, Export, FitRecord, WeightEvent,
                             probe_payload_from_json)

TENSOR = ["sequential/conv2d/kernel", "0123456789abcdef", 0.083]


def payload() -> dict:
    """A well-formed payload of a notebook that trains one CNN, checkpoints it and reloads it."""
    return {
        "schema": SCHEMA,
        "models": [
            {"id": 1, "cell": 3, "names": ["model"], "class_name": "Sequential", "config": {"layers": []}},
            {"id": 2, "cell": 6, "names": ["best_model"], "class_name": "Sequential", "config": {"layers": []},
             "origin": "loaded", "source_path": "best-cnn-model.keras"},
            {"id": 3, "cell": 7, "names": ["transfer"], "class_name": "Functional", "config": {"layers": []},
             "submodels": [2]},
        ],
        "fits": [{
            "cell": 5, "model_id": 1, "index": 0, "epochs_requested": 10, "capped": False, "epochs_run": 4,
            "steps_per_epoch": 1875, "batch_size": 32, "samples": 60000,
            "history": {"loss": [0.5, 0.3, 0.28, 0.29]},
            "callbacks": [
                {"class_name": "EarlyStopping",
                 "settings": {"monitor": "val_loss", "patience": 2, "restore_best_weights": True,
                              "min_delta": 0.0}},
                {"class_name": "ModelCheckpoint",
                 "settings": {"filepath": "best-cnn-model.keras", "save_best_only": True}},
                {"class_name": "TensorBoard"},
            ],
        }],
        "saves": [{"cell": 5, "model_id": 1, "path": "best-cnn-model.keras", "ok": True}],
        "weights": [
            {"model_id": 1, "event": "initial", "digest": "a" * 24, "tensors": [TENSOR], "cell": 3},
            {"model_id": 1, "event": "epoch_end", "digest": "b" * 24, "tensors": [TENSOR], "cell": 5,
             "fit": 0, "epoch": 1},
            {"model_id": 1, "event": "save", "digest": "b" * 24, "tensors": [], "cell": 5,
             "path": "best-cnn-model.keras"},
            {"model_id": 1, "event": "fit_end", "digest": "c" * 24, "tensors": [[TENSOR[0], TENSOR[1], 1]],
             "cell": 5, "fit": 0},
            {"model_id": 2, "event": "load", "digest": "b" * 24, "tensors": [], "cell": 6,
             "path": "best-cnn-model.keras"},
        ],
        "exports": [{"model_id": 1, "file": "model-1.keras"}, {"model_id": 2, "file": None,
                                                              "error": "ValueError: cannot save"}],
    }


def test_a_well_formed_payload_is_read_into_plain_records():
    parsed = probe_payload_from_json(payload())
    assert [record.submodels for record in parsed["models"]] == [(), (), (2,)]
    assert parsed["models"][1].origin == "loaded" and parsed["models"][1].source_path == "best-cnn-model.keras"
    (fit,) = parsed["fits"]
    assert isinstance(fit, FitRecord) and (fit.index, fit.epochs_run, fit.steps) == (0, 4, 4 * 1875)
    assert fit.callbacks == (
        CallbackRecord("EarlyStopping", {"monitor": "val_loss", "patience": 2, "restore_best_weights": True,
                                         "min_delta": 0.0}),
        CallbackRecord("ModelCheckpoint", {"filepath": "best-cnn-model.keras", "save_best_only": True}),
        CallbackRecord("TensorBoard", {}),
    )
    weights = parsed["weights"]
    assert all(isinstance(event, WeightEvent) for event in weights)
    assert [event.event for event in weights] == ["initial", "epoch_end", "save", "fit_end", "load"]
    assert weights[0].tensors == (tuple(TENSOR),)
    assert weights[3].tensors == ((TENSOR[0], TENSOR[1], 1.0),) and isinstance(weights[3].tensors[0][2], float)
    assert (weights[1].fit, weights[1].epoch, weights[2].path) == (0, 1, "best-cnn-model.keras")
    assert parsed["exports"] == (Export(1, "model-1.keras"), Export(2, None, "ValueError: cannot save"))


def test_a_payload_from_before_training_was_watched_has_no_weights_or_exports():
    data = payload()
    for key in ("weights", "exports"):
        del data[key]
    parsed = probe_payload_from_json(data)
    assert (parsed["weights"], parsed["exports"]) == ((), ())


def _set(path: tuple, value):
    def change(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _delete(path: tuple):
    def change(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


MALFORMED = {
    # weight fingerprints
    "weights not a list": _set(("weights",), {"model_id": 1}),
    "weight event not an object": _set(("weights", 0), "initial"),
    "weight event without a digest": _delete(("weights", 0, "digest")),
    "weight event without tensors": _delete(("weights", 0, "tensors")),
    "weight event digest not a string": _set(("weights", 0, "digest"), 12),
    "weight event model id not an integer": _set(("weights", 0, "model_id"), "1"),
    "weight event epoch not an integer": _set(("weights", 1, "epoch"), "1"),
    "weight event path not a string": _set(("weights", 2, "path"), ["best-cnn-model.keras"]),
    "tensor pair, not triple": _set(("weights", 0, "tensors"), [TENSOR[:2]]),
    "tensor quadruple": _set(("weights", 0, "tensors"), [[*TENSOR, 0.1]]),
    "tensor as an object": _set(("weights", 0, "tensors"), [{"path": TENSOR[0], "hash": TENSOR[1], "std": 0.1}]),
    "tensor hash not a string": _set(("weights", 0, "tensors"), [[TENSOR[0], 123, 0.1]]),
    "tensor path not a string": _set(("weights", 0, "tensors"), [[None, TENSOR[1], 0.1]]),
    "tensor std as text": _set(("weights", 0, "tensors"), [[TENSOR[0], TENSOR[1], "0.1"]]),
    "tensor std missing": _set(("weights", 0, "tensors"), [[TENSOR[0], TENSOR[1], None]]),
    # exports
    "exports not a list": _set(("exports",), "model-1.keras"),
    "export not an object": _set(("exports", 0), "model-1.keras"),
    "export without a model id": _delete(("exports", 0, "model_id")),
    "export file in a folder": _set(("exports", 0, "file"), "sub/model-1.keras"),
    "export file with an absolute path": _set(("exports", 0, "file"), "/etc/passwd"),
    "export file climbing out": _set(("exports", 0, "file"), "../model-1.keras"),
    "export file hidden": _set(("exports", 0, "file"), ".model-1.keras"),
    "export file with spaces around": _set(("exports", 0, "file"), " model-1.keras"),
    "export file not a string": _set(("exports", 0, "file"), 1),
    "export error not a string": _set(("exports", 1, "error"), {"ename": "ValueError"}),
    # callbacks
    "callbacks not a list": _set(("fits", 0, "callbacks"), {"class_name": "EarlyStopping"}),
    "callback not an object": _set(("fits", 0, "callbacks", 0), "EarlyStopping"),
    "callback without a class": _delete(("fits", 0, "callbacks", 0, "class_name")),
    "callback settings not an object": _set(("fits", 0, "callbacks", 0, "settings"), [["patience", 2]]),
    "callback setting a list": _set(("fits", 0, "callbacks", 0, "settings", "monitor"), ["val_loss"]),
    "callback setting an object": _set(("fits", 0, "callbacks", 0, "settings", "patience"), {"value": 2}),
    "callback setting null": _set(("fits", 0, "callbacks", 0, "settings", "patience"), None),
    # submodels
    "submodels not a list": _set(("models", 2, "submodels"), 2),
    "submodel id as text": _set(("models", 2, "submodels"), ["2"]),
    "submodel id a boolean": _set(("models", 2, "submodels"), [True]),
    "submodel id a float": _set(("models", 2, "submodels"), [2.0]),
    # the models they name
    "origin not a string": _set(("models", 1, "origin"), 1),
    "source path not a string": _set(("models", 1, "source_path"), ["best-cnn-model.keras"]),
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_training_payload_is_refused(change):
    data = copy.deepcopy(payload())
    change(data)
    with pytest.raises(EvidenceError):
        probe_payload_from_json(data)


@pytest.mark.parametrize("file", ["model-1.keras", "model 1.keras", "model-1.h5"])
def test_a_plain_export_file_name_is_kept(file):
    data = payload()
    data["exports"][0]["file"] = file
    assert probe_payload_from_json(data)["exports"][0].file == file


def test_an_empty_export_file_name_is_refused():
    """An empty name would make the export folder itself the file to evaluate."""
    data = payload()
    data["exports"][0]["file"] = ""
    with pytest.raises(EvidenceError):
        probe_payload_from_json(data)
