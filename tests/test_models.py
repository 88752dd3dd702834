"""Finding the models: similarity first, then a role's only candidate, however far off it is.

A learner's fashion_conv_intro CNN had three Conv2D(32) blocks instead of two Conv2D(64) ones:
too far from the reference to be matched by similarity, yet plainly the CNN. Evidence is
hand-written (tests/configs.py) and the expected tables are recomputed from the reference
configs; assertions name codes, fields, outcomes and scores, never wording.
"""

from __future__ import annotations

import ast

import pytest

import configs
from grader.checks.architecture import check_architecture, with_output_units
from grader.checks.models import MINIMUM_SIMILARITY, find_models, tables_for
from grader.exercises import load_spec
from grader.layers import LayerRow, table_from_config
from grader.results import Outcome

SPEC = load_spec("fashion_conv_intro")


def table(config: dict):
    return table_from_config("Functional" if "input_layers" in config else "Sequential", config)


def expected_for(builders: dict) -> dict[str, dict]:
    return {key: table(builder()).to_json() for key, builder in builders.items()}


FASHION_EXPECTED = expected_for({"dense": configs.dense_baseline, "cnn": configs.coursera_cnn})


def expected_rows(spec, expected: dict[str, dict]) -> dict[str, tuple[LayerRow, ...]]:
    return {model.key: with_output_units(tuple(LayerRow.from_json(r) for r in expected[model.key]["layers"]),
                                         model.output_classes)
            for model in spec.models}


def find(*records, spec=SPEC, expected=FASHION_EXPECTED, tables=None):
    evidence = configs.evidence(*records)
    all_tables = tables_for(evidence)
    if tables is None:  # as the grader calls it: models whose map collapses are not offered
        tables = {model_id: t for model_id, t in all_tables.items() if t.collapse is None}
    return find_models(spec.models, expected_rows(spec, expected), evidence, tables)


def grade_cnn(found):
    check = next(check for check in SPEC.checks if check.id == "architecture" and check.model == "cnn")
    return check, check_architecture(check, SPEC.model("cnn"), FASHION_EXPECTED["cnn"], found["cnn"],
                                     ": none of the models your code built has layers close to it")


def codes(result) -> list[str]:
    return [diagnosis.code for diagnosis in result.diagnoses]


def by_code(result, code: str) -> list:
    return [diagnosis for diagnosis in result.diagnoses if diagnosis.code == code]


# --- Submitted models ------------------------------------------------------------------------

def three_conv32_layers() -> list[dict]:
    """The learner's CNN: three Conv2D(32, 3) + MaxPooling2D(2) blocks (24,330 parameters)."""
    layers = []
    for block in range(3):
        suffix = f"_{block}" if block else ""
        layers += [configs.conv2d(f"conv2d{suffix}", 32, activation="relu"), configs.max_pool(f"max_pooling2d{suffix}")]
    return layers + [configs.flatten("flatten"), configs.dense("dense", 128, "relu"),
                     configs.dense("dense_1", 10, "softmax")]


def three_conv32(input_shape: tuple = (28, 28, 1)) -> dict:
    return configs.sequential(three_conv32_layers(), input_shape)


def sigmoid_conv_cnn() -> dict:
    """Another far-off CNN: one 5x5 Conv2D(16) 'same', no pooling, two Dense layers."""
    return configs.sequential([configs.conv2d("conv2d_9", 16, kernel=5, padding="same", activation="sigmoid"),
                               configs.flatten("flatten_9"), configs.dense("dense_8", 32, "relu"),
                               configs.dense("dense_9", 10, "softmax")], (28, 28, 1))


def feature_map_model() -> dict:
    """`keras.Model(model.inputs, model.layers[0].output)`: one Conv2D, no Dense head."""
    return configs.functional([configs.conv2d("conv2d", 32, activation="relu")], (28, 28, 1))


def activation_model() -> dict:
    """The lab's `keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])`:
    every layer of the CNN, and one output per layer (Keras 3 writes a list of them)."""
    config = configs.functional(three_conv32_layers(), (28, 28, 1))
    config["output_layers"] = [[entry["config"]["name"], 0, 0] for entry in three_conv32_layers()]
    return config


def dense_record(model_id: int = 1):
    return configs.record(model_id, configs.dense_baseline(), ("model",), cell=2)


def cnn_record(model_id: int = 2, config: dict | None = None):
    return configs.record(model_id, config or three_conv32(), ("model",), cell=3)


# --- The learner's notebook ------------------------------------------------------------------

def test_the_three_block_cnn_is_too_far_for_similarity_alone():
    found = find(dense_record(), cnn_record(), configs.record(3, activation_model(), ("activation_model",),
                                                              "Functional", cell=4))
    assert found["cnn"] is not None and found["cnn"].record.id == 2
    assert found["cnn"].only_candidate
    assert found["cnn"].similarity < MINIMUM_SIMILARITY


def test_the_dense_baseline_is_still_found_by_similarity():
    found = find(dense_record(), cnn_record())
    assert found["dense"].record.id == 1
    assert (found["dense"].similarity, found["dense"].only_candidate) == (1.0, False)


def test_the_three_block_cnn_is_judged_failed_with_partial_credit():
    check, result = grade_cnn(find(dense_record(), cnn_record()))
    assert result.outcome is Outcome.FAILED
    assert result.data["model_id"] == 2
    assert sorted(codes(result)) == ["layer_extra", "layer_extra", "param_mismatch", "shape_mismatch"]
    # One whole block is extra: a Conv2D and the MaxPooling2D after it. (Which of the three
    # blocks is the architecture check's alignment to decide: no layer of the three matches
    # the reference exactly, so every choice costs the same.)
    student = [row.name for row in table(three_conv32()).rows]
    extra = sorted((student.index(d.layer), d.field("class_name")) for d in by_code(result, "layer_extra"))
    assert [name for _, name in extra] == ["Conv2D", "MaxPooling2D"] and extra[1][0] == extra[0][0] + 1
    # The filters: the first differing output is a Conv2D map of 32 channels where 64 belong.
    [shape] = by_code(result, "shape_mismatch")
    actual, expected = (ast.literal_eval(shape.field(key)) for key in ("actual", "expected"))
    assert shape.layer.startswith("conv2d") and (actual[-1], expected[-1]) == (32, 64)
    [params] = by_code(result, "param_mismatch")
    assert params.field("actual") != params.field("expected")
    # 7 expected layers: 6 of the right class with a wrong shape or count (1/2 each), the output
    # layer right (1), the two extra layers take one each away: 2 of 7.
    assert result.score == round(check.points * 2 / 7, 4)  # the check rounds to 4 places
    assert 0 < result.score < check.points


def test_the_same_cnn_spelt_the_functional_way_is_found_too():
    functional = configs.functional(three_conv32_layers(), (28, 28, 1), name="cnn")
    found = find(dense_record(), configs.record(2, functional, ("cnn_model",), "Functional", cell=3))
    assert found["cnn"].record.id == 2 and found["cnn"].only_candidate


# --- Models that are not the CNN -------------------------------------------------------------

@pytest.mark.parametrize("config, class_name", [
    pytest.param(feature_map_model(), "Functional", id="feature-map-model"),
    pytest.param(activation_model(), "Functional", id="activation-model-with-one-output-per-layer"),
    pytest.param(three_conv32((28, 28, 3)), "Sequential", id="another-input"),
    pytest.param(configs.mnist_mlp(), "Sequential", id="dense-model"),
    pytest.param(configs.sequential(three_conv32_layers()[:6], (28, 28, 1)), "Sequential", id="no-dense-head"),
    pytest.param(configs.sequential([configs.conv2d("conv2d", 10), configs.layer(
        "GlobalAveragePooling2D", "global_average_pooling2d", data_format="channels_last", keepdims=False)],
        (28, 28, 1)), "Sequential", id="ten-outputs-but-no-dense-layer"),
])
def test_a_model_that_is_no_attempt_at_the_cnn_is_not_taken_for_it(config, class_name):
    found = find(dense_record(), configs.record(2, config, ("features",), class_name, cell=4))
    assert found["cnn"] is None
    assert found["dense"].record.id == 1
    _, result = grade_cnn(found)
    assert codes(result) == ["missing_model"]
    assert result.outcome is Outcome.ERROR


def test_a_feature_map_model_alone_is_not_taken_for_the_cnn():
    found = find(configs.record(1, feature_map_model(), ("feature_model",), "Functional", cell=4))
    assert found == {"dense": None, "cnn": None}


def test_two_far_off_candidates_for_one_role_are_neither_forced():
    found = find(dense_record(), cnn_record(2), cnn_record(3, sigmoid_conv_cnn()))
    assert found["cnn"] is None
    _, result = grade_cnn(found)
    assert (codes(result), result.outcome) == (["missing_model"], Outcome.ERROR)


def test_a_far_off_cnn_never_answers_the_dense_role():
    found = find(cnn_record())
    assert found["dense"] is None
    assert found["cnn"].record.id == 2


def test_a_model_is_never_both_the_dense_baseline_and_the_cnn():
    found = find(dense_record(), cnn_record())
    assert found["dense"].record.id != found["cnn"].record.id


def test_one_far_off_model_that_could_answer_two_open_roles_answers_neither():
    spec = load_spec("mnist_models")
    expected = expected_for({"dense10": configs.mnist_dense10, "mlp": configs.mnist_mlp,
                                   "cnn": configs.mnist_cnn})
    wide = configs.sequential([configs.dense("dense", 512, "relu"), configs.dense("dense_1", 256, "relu"),
                               configs.dense("dense_2", 64, "relu"), configs.dense("dense_3", 10, "softmax")], (784,))
    found = find(configs.record(1, configs.mnist_cnn()), configs.record(2, wide), spec=spec, expected=expected)
    assert found["cnn"].record.id == 1
    assert (found["dense10"], found["mlp"]) == (None, None)


# --- Models that collapse, and models built on other models ----------------------------------

CNN_TRANSFER = load_spec("cnn_transfer")
TRANSFER_EXPECTED = expected_for({"conv_same": configs.conv_only, "strided": configs.strided_cnn,
                                                "extractor": configs.extractor, "classifier": configs.classifier})


def transfer_head() -> dict:
    """Seed 004's fine-class head on the reloaded extractor: nested extractor, Flatten, Dense(10)."""
    return configs.functional([configs.nested(configs.extractor(name="functional_2", input_name="input_layer_2")),
                               configs.flatten("flatten_1"), configs.dense("dense_2", 10, "softmax")],
                              (32, 32, 3), name="functional_3", input_name="input_layer_3")


def transfer_records(strided: dict | None) -> list:
    records = [configs.record(1, configs.conv_only(), ("model",), cell=2),
               configs.record(3, configs.extractor(), ("shared_model",), "Functional", cell=4),
               configs.record(4, configs.classifier(4), ("super_model",), "Functional", cell=5),
               configs.record(5, transfer_head(), ("load_sub_model",), "Functional", cell=8)]
    if strided is not None:
        records.insert(1, configs.record(2, strided, ("model",), cell=3))
    return records


def test_a_model_whose_map_collapses_never_fills_a_role_and_keeps_others_from_it():
    found = find(*transfer_records(configs.pooled_strided_cnn()), spec=CNN_TRANSFER, expected=TRANSFER_EXPECTED)
    assert found["strided"] is None
    assert {key: found[key].record.id for key in ("conv_same", "extractor", "classifier")} == {
        "conv_same": 1, "extractor": 3, "classifier": 4}


def test_a_model_whose_map_collapses_is_not_taken_even_when_offered():
    layers = three_conv32_layers()
    collapsing = configs.sequential(layers[:6] + [configs.conv2d("conv2d_3", 32, activation="relu")] + layers[6:],
                                    (28, 28, 1))  # a fourth 3x3 Conv2D on the 1x1 map
    evidence_records = [dense_record(), cnn_record(2, collapsing)]
    tables = tables_for(configs.evidence(*evidence_records))
    assert tables[2].collapse is not None
    assert find(*evidence_records, tables=tables)["cnn"] is None


def test_a_model_whose_map_collapses_keeps_a_far_off_one_from_being_forced():
    layers = three_conv32_layers()
    collapsing = configs.sequential(layers[:6] + [configs.conv2d("conv2d_3", 32, activation="relu")] + layers[6:],
                                    (28, 28, 1))
    found = find(dense_record(), cnn_record(2, collapsing), cnn_record(3, sigmoid_conv_cnn()))
    assert found["cnn"] is None  # the collapsed one may be the CNN the student meant
    assert found["dense"].record.id == 1


def test_a_role_without_a_dense_head_is_never_filled_by_elimination():
    scratch = configs.sequential([configs.conv2d("conv2d_7", 8, padding="same"), configs.flatten("flatten_7"),
                                  configs.dense("dense_7", 10, "softmax")], (32, 32, 3))
    records = [configs.record(1, configs.conv_only(), ("model",), cell=2),
               configs.record(2, configs.strided_cnn(4), ("model",), cell=3),
               configs.record(4, configs.classifier(4), ("super_model",), "Functional", cell=5),
               configs.record(6, scratch, ("scratch_model",), cell=9)]
    found = find(*records, spec=CNN_TRANSFER, expected=TRANSFER_EXPECTED)
    assert {key: found[key] and found[key].record.id for key in found} == {
        "conv_same": 1, "strided": 2, "extractor": None, "classifier": 4}


def test_a_head_built_on_another_model_is_not_taken_for_a_plain_cnn():
    found = find(*transfer_records(None), spec=CNN_TRANSFER, expected=TRANSFER_EXPECTED)
    assert found["strided"] is None
    assert found["classifier"].record.id == 4


def test_a_module_answers_a_role_only_with_what_its_entry_point_returned():
    """build_cnn() builds the CNN and forgets to return it: the probe saw the model built, but
    a module's answer is what the function returns. A notebook's model is found as before."""
    from dataclasses import replace

    spec = load_spec("fashion_cnn")
    (role,) = [model for model in spec.models if model.key == "cnn"]
    spec = replace(spec, models=(replace(role, entry_point="build_cnn"),))
    expected = expected_for({"cnn": configs.fashion_cnn})
    unreturned = configs.record(1, configs.fashion_cnn(), names=())
    returned = configs.record(1, configs.fashion_cnn(), names=("build_cnn",))
    found = {}
    for label, record, kind in (("module, not returned", unreturned, "module"),
                                ("module, returned", returned, "module"),
                                ("notebook", unreturned, "notebook")):
        evidence = replace(configs.evidence(record), kind=kind)
        found[label] = find_models(spec.models, expected_rows(spec, expected), evidence, tables_for(evidence))["cnn"]
    assert found["module, not returned"] is None
    assert found["module, returned"] is not None and found["notebook"] is not None
