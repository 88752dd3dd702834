"""The diagnosis catalogue (grader/diagnoses.py): complete, renderable, and in step with the checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import grader
from grader.diagnoses import (CATALOGUE, KERAS_2_MODE_NOTE, KINDS, Diagnosis, Kind, catalogue_markdown, diagnose,
                              where_in_cell)

# Each code with the fields (and value types) the code that emits it passes.
SAMPLES = {
    "syntax_error": dict(cell=2, where="Cell 2, line 3", error="invalid syntax", line=3),
    "name_error": dict(cell=4, name="modle", suggestion=" (did you mean `model`?)"),
    "attribute_typo": dict(cell=4, owner="model", attribute="evalute", suggestion="evaluate"),
    "unknown_fit_argument": dict(cell=5, function="fit", argument="epoch", fix="Write `epochs=`."),
    "missing_channel_dim": dict(cell=5, found=3),
    "legacy_save_format": dict(cell=6, path="model", suggested="model.keras", keras=3),
    "legacy_load_format": dict(cell=7, path="shared_model", suggested="shared_model.keras", keras=3),
    "hard_coded_count": dict(cell=3, count=60000, size=6272000, rest="28, 28, 1"),
    "grader_error": dict(path="alice", problem="KeyError: 'layers'"),
    "no_evidence": dict(problem="the probe could not be installed: ModuleNotFoundError: No module named 'grader'"),
    "compile_positional_metrics": dict(cell=5, args="'adam', 'mse', 'accuracy'", value="accuracy",
                                       optimizer="adam", loss="mse", keras=3),
    "metrics_not_list": dict(cell=5, value="accuracy", keras=3),
    "sequential_input_undefined": dict(cell=9, expression="model.input", replacement="model.inputs", keras=3),
    "removed_api": dict(cell=3, old="model.predict_classes", new="model.predict(x).argmax(axis=1)", keras=3),
    "mixed_keras": dict(cell=3, class_name="Dense", package="tf_keras", version=2, model_package="keras",
                        model_version=3, keras=3),
    "missing_module": dict(cell=1, module="google.colab", fix="Remove the Colab-only import."),
    "data_unavailable": dict(cell=2, path="/content/drive/data.csv"),
    "runtime_error": dict(cell=7, ename="ValueError", evalue="bad value"),
    "timeout": dict(cell=8, where="Cell 8", seconds="600"),
    "kernel_died": dict(cell=8, where=" in cell 8", reason="killed by signal 9", detail="signal 9"),
    "memory_limit": dict(cell=8, where=" in cell 8", limit="8.0 GiB"),
    "disk_limit": dict(cell=8, where="Cell 8", limit="4.0 GB"),
    "process_limit": dict(cell=8, where="Cell 8", limit="256 processes"),
    "file_limit": dict(cell=6, where="Cell 6", limit="1 GB"),
    "output_limit": dict(cell=3, where="Cell 3", limit="1 MB"),
    "network_unavailable": dict(cell=2, where="Cell 2, line 1", target="https://example.com/train.csv",
                                reason="no host name can be looked up"),
    "model_unreadable": dict(cell=4, model="`model`", problem="layer `dense` (Dense): KeyError: 'units'"),
    "invalid_notebook": dict(path="submission", problem="not JSON"),
    "unsupported_submission": dict(path="answers", problem="files ending in .txt cannot be graded"),
    "missing_entry_point": dict(name="build_model"),
    "unloadable_model": dict(path="model.keras", problem="not a zip file"),
    "missing_model": dict(model="the Fashion-MNIST CNN", where=" (your code built no Keras model)",
                          names="`model` or `cnn`"),
    "pooling_collapse": dict(cell=6, layer="max_pooling2d_2", class_name="MaxPooling2D", size_in="1x1",
                             window="2x2", size_out="0x0",
                             trace="32x32 -conv2d-> 16x16 -max_pooling2d-> 8x8"),
    "shape_mismatch": dict(layer="conv2d", actual="(None, 26, 26, 32)", expected="(None, 28, 28, 32)",
                           fix="Use padding='same'."),
    "param_mismatch": dict(layer="dense", actual=230_500, expected=313_700, fix="Fix `conv2d` above."),
    "setting_mismatch": dict(layer="dropout", subject="Layer `dropout`", target="that layer", setting="rate",
                             actual=0.5, expected=0.4),
    "layer_missing": dict(layer=None, class_name="Dropout", position="after `dense`", suggestion="Dropout(0.4)"),
    "layer_extra": dict(layer="dense_extra", class_name="Dense"),
    "layer_type_mismatch": dict(layer="average_pooling2d", actual="AveragePooling2D", expected="MaxPooling2D",
                                suggestion="MaxPooling2D(pool_size=(2, 2))"),
    "wrong_output_classes": dict(layer="dense_1", actual=5, expected=10),
    "not_recomputed": dict(layers="spectral_pooling"),
    "returned_not_a_model": dict(name="build_model", returned="None"),
    "not_trained": dict(model="the Fashion-MNIST CNN", name="model"),
    "accuracy_below_threshold": dict(model="the Fashion-MNIST CNN", value="0.612", pass_mark="0.889",
                                     floor="0.789", band="0.910 to 0.915 over 3 seeds",
                                     images="the Fashion-MNIST test set (10,000 images)"),
    "lambda_layer": dict(layer="lambda", model="the Fashion-MNIST CNN"),
    "custom_object": dict(layer="my_scale", class_name="MyScale", model="the Fashion-MNIST CNN"),
    "reload_mismatch": dict(cell=7, path="best-cnn-model.keras", what="the weights from before training"),
    "missing_artifact": dict(cell=7, path="best-cnn-model.keras", model="the Fashion-MNIST CNN"),
    "not_reloaded": dict(model="the Fashion-MNIST CNN", file="best-cnn-model.keras"),
    "artifact_mismatch": dict(path="best-cnn-model.keras", what="its Dense layer has 64 units, not 100"),
    "missing_upload": dict(path="best-cnn-model.keras", model="the Fashion-MNIST CNN"),
    "base_not_reloaded": dict(cell=12, model="load_sub_model", base="shared_model"),
    "base_not_frozen": dict(cell=12, model="load_sub_model", base="load_shared_model"),
    "missing_baseline": dict(model="load_sub_model"),
    "unfair_baseline": dict(cell=12, model="load_sub_model", baseline="scratch_sub_model",
                            ours="5 epoch(s), 50 steps", theirs="1 epoch(s), 10 steps"),
    "no_transfer_gain": dict(gain="0.012", transfer="0.112", scratch="0.100", pass_mark="0.575"),
    "accuracy_order": dict(expected="the dense baseline < the CNN", measured="the dense baseline 0.86, the CNN 0.84"),
    "missing_callback": dict(cell=3, class_name="EarlyStopping",
                             constructor="keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)"),
    "feature_map_model_missing": dict(model="the Fashion-MNIST CNN", shapes="(1, 28, 28, 32)", name="model"),
    "evaluation_timeout": dict(seconds="300"),
    "not_evaluated": dict(what="the Fashion-MNIST CNN"),
}
LIVE = [kind.code for kind in KINDS if not kind.retired]


def test_every_live_code_has_a_sample():
    assert set(SAMPLES) == set(LIVE)


@pytest.mark.parametrize("code", LIVE)
def test_code_renders_with_the_fields_its_check_passes(code):
    diagnosis = diagnose(code, **SAMPLES[code])
    for text in (diagnosis.message, diagnosis.hint):
        assert text.strip()
        assert not re.search(r"\{\w*\}", text), text  # no template field left unfilled
    data = diagnosis.to_json()
    assert data["code"] == code
    assert data.get("cell") == SAMPLES[code].get("cell")
    assert data.get("layer") == SAMPLES[code].get("layer")


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.code)
def test_catalogue_entries_are_well_formed(kind):
    assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", kind.code)
    assert kind.audience in ("student", "instructor")
    assert kind.title and kind.message and kind.hint


def test_codes_are_unique():
    assert len(CATALOGUE) == len(KINDS)


def test_unknown_code_raises():
    with pytest.raises(KeyError):
        diagnose("no_such_code")


@pytest.mark.parametrize("code, missing", [("param_mismatch", "fix"), ("layer_missing", "position"),
                                           ("pooling_collapse", "trace"), ("missing_model", "names")])
def test_missing_field_raises(code, missing):
    fields = {key: value for key, value in SAMPLES[code].items() if key != missing}
    with pytest.raises(KeyError):
        diagnose(code, **fields)


def test_retired_code_raises(monkeypatch):
    monkeypatch.setitem(CATALOGUE, "old_code", Kind("old_code", "Old", "{where}", "-", retired=True))
    with pytest.raises(KeyError):
        diagnose("old_code")


def test_where_defaults_from_the_cell():
    assert diagnose("runtime_error", cell=7, ename="E", evalue="v").field("where") == "Cell 7"
    assert diagnose("runtime_error", ename="E", evalue="v").field("where") == "Your code"


def test_field_lookup():
    diagnosis = diagnose("wrong_output_classes", layer="dense_1", actual=5, expected=10)
    assert (diagnosis.field("actual"), diagnosis.field("expected")) == (5, 10)
    assert diagnosis.field("absent") is None and diagnosis.field("absent", 0) == 0
    assert diagnosis == Diagnosis("wrong_output_classes", diagnosis.fields, None, "dense_1")


@pytest.mark.parametrize("cell, line, file, text", [
    (None, None, None, "Your code"), (4, None, None, "Cell 4"), (4, 2, None, "Cell 4, line 2"),
    (None, 12, "solution.py", "solution.py, line 12"), (None, None, "solution.py", "solution.py"),
])
def test_where_in_cell(cell, line, file, text):
    assert where_in_cell(cell, line, file) == text


BY_KERAS = [kind.code for kind in KINDS if not kind.retired and kind.depends_on_keras]
MIGRATION = ["legacy_save_format", "legacy_load_format", "compile_positional_metrics", "metrics_not_list",
             "sequential_input_undefined", "removed_api"]
"""Keras 2 habits Keras 3 rejects (tf-keras 2.21 takes each: `compile('adam', loss, 'accuracy')`
trains with accuracy as its metric)."""


def test_the_keras3_migration_codes_are_those_that_offer_keras2_mode():
    assert [kind.code for kind in KINDS if kind.migration] == MIGRATION
    assert set(BY_KERAS) == {*MIGRATION, "mixed_keras"}


@pytest.mark.parametrize("code", BY_KERAS)
@pytest.mark.parametrize("keras", [2, 3])
def test_a_code_whose_hint_depends_on_the_mode_renders_in_both(code, keras):
    diagnosis = diagnose(code, **{**SAMPLES[code], "keras": keras})
    assert diagnosis.hint.strip() and not re.search(r"\{\w*\}", diagnosis.hint), diagnosis.hint
    assert (KERAS_2_MODE_NOTE in diagnosis.hint) == (keras == 3 and code in MIGRATION)


@pytest.mark.parametrize("keras", [None, 3, "2", True])
def test_a_hint_without_the_mode_2_is_the_keras3_hint(keras):
    fields = {name: value for name, value in SAMPLES["mixed_keras"].items() if name != "keras"}
    diagnosis = diagnose("mixed_keras", **fields, **({} if keras is None else {"keras": keras}))
    assert diagnosis.hint == diagnose("mixed_keras", **SAMPLES["mixed_keras"]).hint
    assert diagnosis.hint != diagnose("mixed_keras", **{**fields, "keras": 2}).hint


def test_a_missing_field_of_the_keras2_hint_raises(monkeypatch):
    kind = Kind("two_hints", "Two hints", "{where}", "-", hint_keras2="Use {module}.")
    monkeypatch.setitem(CATALOGUE, "two_hints", kind)
    with pytest.raises(KeyError):
        diagnose("two_hints", keras=3)


def test_docs_table_lists_every_live_code_once():
    table = catalogue_markdown()
    assert [re.match(r"\| `(\w+)`", line).group(1) for line in table.splitlines()[2:]] == LIVE


# --- The catalogue and the checks stay in step ------------------------------------------------

def _package_sources() -> dict[Path, str]:
    package = Path(grader.__file__).parent
    return {path: path.read_text() for path in package.rglob("*.py") if path.name != "diagnoses.py"}


def _emitted_codes() -> set[str]:
    pattern = re.compile(r"""diagnose\(\s*["']([a-z0-9_]+)["']""")
    return {code for text in _package_sources().values() for code in pattern.findall(text)}


def test_emitted_codes_are_found_by_the_scan():
    assert {"shape_mismatch", "pooling_collapse", "syntax_error", "timeout"} <= _emitted_codes()


def test_every_emitted_code_is_catalogued_and_live():
    assert _emitted_codes() <= set(LIVE)


@pytest.mark.parametrize("code", LIVE)
def test_every_live_code_is_emitted_somewhere(code):
    sources = "\n".join(_package_sources().values())
    assert f'"{code}"' in sources or f"'{code}'" in sources
