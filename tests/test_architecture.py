"""The architecture check: alignment, model finding and diagnosis rules (grader/checks/).

Evidence is hand-written (tests/configs.py); expectations are the recomputed tables of the
reference configs, so these tests do not depend on the recorded files. Assertions name codes,
fields, outcomes and scores, never the wording of a message.
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import configs
from grader.checks.alignment import align_layers, canonical_class, same_family
from grader.checks.architecture import check_architecture, constructor, with_output_units
from grader.checks.models import FoundModel, find_models, similarity, tables_for
from grader.exercises import load_spec, parse_spec
from grader.layers import LayerRow, LayerTable, table_from_config
from grader.results import Outcome


def table(config: dict) -> LayerTable:
    return table_from_config("Functional" if "input_layers" in config else "Sequential", config)


def row(class_name: str, name: str | None = None) -> LayerRow:
    return LayerRow(name or class_name.lower(), class_name, None, None, None)


def rows(*class_names: str) -> tuple[LayerRow, ...]:
    return tuple(row(name, f"{name.lower()}_{index}") for index, name in enumerate(class_names))


FASHION = ("Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense")


# --- Alignment -------------------------------------------------------------------------------

def test_missing_layer_in_the_middle_is_one_gap():
    expected = rows(*FASHION)
    actual = expected[:1] + expected[2:]
    pairs = align_layers(expected, actual)
    assert [(want, got) for want, got in pairs if got is None] == [(expected[1], None)]
    assert all(same_family(want, got) for want, got in pairs if want is not None and got is not None)
    # What a plain zip would have blamed instead:
    assert sum(not same_family(want, got) for want, got in zip(expected, actual)) >= 4


def test_extra_layer_is_one_gap_on_the_other_side():
    expected = rows(*FASHION)
    extra = row("BatchNormalization", "batch_normalization")
    actual = expected[:1] + (extra,) + expected[1:]
    pairs = align_layers(expected, actual)
    assert [pair for pair in pairs if pair[0] is None] == [(None, extra)]
    assert len(pairs) == len(actual)


def test_swapped_class_is_paired_not_gapped():
    expected = rows(*FASHION)
    swapped = row("AveragePooling2D", "average_pooling2d")
    actual = expected[:1] + (swapped,) + expected[2:]
    pairs = align_layers(expected, actual)
    assert (expected[1], swapped) in pairs
    assert all(want is not None and got is not None for want, got in pairs)


@pytest.mark.parametrize("alias, canonical", [
    ("MaxPool2D", "MaxPooling2D"), ("AvgPool2D", "AveragePooling2D"), ("Sequential", "Functional"),
    ("Model", "Functional"), ("Conv2D", "Conv2D"),
])
def test_aliases_are_the_same_family(alias, canonical):
    assert canonical_class(alias) == canonical
    assert same_family(row(canonical), row(alias))


def test_maxpool2d_alias_aligns_with_maxpooling2d():
    expected = rows(*FASHION)
    actual = rows(*(("MaxPool2D" if name == "MaxPooling2D" else name) for name in FASHION))
    pairs = align_layers(expected, actual)
    assert all(want is not None and got is not None and same_family(want, got) for want, got in pairs)


def test_extra_layer_next_to_its_twin_is_the_one_that_does_not_fit():
    def dense(name, units, inputs):
        return LayerRow(name, "Dense", (None, units), inputs * units + units, inputs * units + units)

    expected = (row("Flatten"), dense("dense", 100, 3136), dense("dense_1", 10, 100))
    added = dense("dense_extra", 100, 100)
    actual = expected[:2] + (added,) + expected[2:]
    assert [pair for pair in align_layers(expected, actual) if pair[0] is None] == [(None, added)]


LAYER_CLASSES = st.sampled_from(["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout"])


def _class_edits(pairs) -> int:
    return sum(1 for want, got in pairs if want is None or got is None or not same_family(want, got))


@settings(database=None, deadline=None, max_examples=150)
@given(expected=st.lists(st.tuples(LAYER_CLASSES, st.integers(0, 2)), max_size=9),
       actual=st.lists(st.tuples(LAYER_CLASSES, st.integers(0, 2)), max_size=9))
def test_shape_tie_break_never_costs_a_class_edit(expected, actual):
    def with_sizes(layers):
        return tuple(LayerRow(f"layer_{index}", name, (None, size), size, size)
                     for index, (name, size) in enumerate(layers))

    by_class = align_layers(rows(*(name for name, _ in expected)), rows(*(name for name, _ in actual)))
    by_shape = align_layers(with_sizes(expected), with_sizes(actual))
    assert _class_edits(by_shape) == _class_edits(by_class)


@settings(database=None, deadline=None, max_examples=150)
@given(expected=st.lists(LAYER_CLASSES, max_size=9), actual=st.lists(LAYER_CLASSES, max_size=9))
def test_alignment_keeps_both_sequences_in_order(expected, actual):
    expected_rows, actual_rows = rows(*expected), rows(*actual)
    pairs = align_layers(expected_rows, actual_rows)
    assert tuple(want for want, _ in pairs if want is not None) == expected_rows
    assert tuple(got for _, got in pairs if got is not None) == actual_rows
    gaps = sum(1 for want, got in pairs if want is None or got is None)
    assert gaps >= abs(len(expected) - len(actual))
    assert all(want is not None or got is not None for want, got in pairs)


@settings(database=None, deadline=None, max_examples=50)
@given(classes=st.lists(LAYER_CLASSES, max_size=9))
def test_alignment_with_itself_pairs_every_layer(classes):
    layers = rows(*classes)
    assert align_layers(layers, layers) == list(zip(layers, layers))
    assert similarity(layers, layers) == 1.0


# --- Finding the models ----------------------------------------------------------------------

def expected_rows_for(spec, expected: dict[str, dict]) -> dict[str, tuple[LayerRow, ...]]:
    return {model.key: with_output_units(tuple(LayerRow.from_json(r) for r in expected[model.key]["layers"]),
                                         model.output_classes)
            for model in spec.models}


MNIST_EXPECTED = {"dense10": table(configs.mnist_dense10()).to_json(), "mlp": table(configs.mnist_mlp()).to_json(),
                  "cnn": table(configs.mnist_cnn()).to_json()}


@pytest.mark.parametrize("order", [("dense10", "mlp", "cnn"), ("cnn", "dense10", "mlp"), ("mlp", "cnn", "dense10")])
def test_three_models_all_named_model_are_told_apart(order):
    spec = load_spec("mnist_models")
    builders = {"dense10": configs.mnist_dense10, "mlp": configs.mnist_mlp, "cnn": configs.mnist_cnn}
    evidence = configs.evidence(*(configs.record(index, builders[key](), ("model",), cell=index)
                                  for index, key in enumerate(order, start=1)))
    found = find_models(spec.models, expected_rows_for(spec, MNIST_EXPECTED), evidence, tables_for(evidence))
    assert {key: found[key].record.id for key in found} == {key: order.index(key) + 1 for key in order}
    assert all(found[key].similarity == 1.0 for key in found)


def test_variable_name_breaks_a_tie_between_identical_models():
    spec = load_spec("fashion_cnn")
    evidence = configs.evidence(configs.record(1, configs.fashion_cnn(), ("copy",)),
                                configs.record(2, configs.fashion_cnn(), ("cnn",)))
    expected = {"cnn": table(configs.fashion_cnn()).to_json()}
    found = find_models(spec.models, expected_rows_for(spec, expected), evidence, tables_for(evidence))
    assert found["cnn"].record.id == 2


def test_models_without_a_readable_config_are_left_out():
    broken = configs.sequential([{"class_name": "Dense", "config": {"name": "dense"}}], (784,))  # no units
    evidence = configs.evidence(configs.record(1, None), configs.record(2, broken),
                                configs.record(3, configs.mnist_cnn()))
    assert set(tables_for(evidence)) == {3}


@pytest.mark.parametrize("expected, actual, value", [
    ((), (), 1.0),
    (rows("Dense"), rows("Conv2D", "Flatten"), 0.0),
])
def test_similarity_bounds(expected, actual, value):
    assert similarity(expected, actual) == value


# --- The check -------------------------------------------------------------------------------

SPEC = parse_spec({
    "id": "fashion_cnn", "title": "A CNN", "reference": "fashion_cnn", "dataset": "fashion_mnist",
    "models": [{"key": "cnn", "title": "the Fashion-MNIST CNN", "names": ["model", "cnn"], "output_classes": 10}],
    "checks": [{"id": "architecture", "name": "Architecture of the CNN", "model": "cnn", "points": 6}],
})
CHECK = SPEC.checks[0]
MODEL = SPEC.model("cnn")
EXPECTED = table(configs.fashion_cnn()).to_json()
POINTS = CHECK.points


def grade(config: dict, names=("model",), class_name="Sequential"):
    return grade_records([configs.record(1, config, names, class_name, cell=3)])


def grade_records(records):
    evidence = configs.evidence(*records)
    found = find_models(SPEC.models, expected_rows_for(SPEC, {"cnn": EXPECTED}), evidence, tables_for(evidence))
    result = check_architecture(CHECK, MODEL, EXPECTED, found["cnn"], " (your code built no Keras model)")
    for diagnosis in result.diagnoses:  # every diagnosis a check emits must render
        assert diagnosis.message and diagnosis.hint
    return result


def codes(result) -> list[str]:
    return [diagnosis.code for diagnosis in result.diagnoses]


def by_code(result, code: str):
    matches = [diagnosis for diagnosis in result.diagnoses if diagnosis.code == code]
    assert len(matches) == 1, codes(result)
    return matches[0]


def fashion(replace: dict | None = None, remove: tuple = (), after: dict | None = None) -> dict:
    """The fashion CNN with layers replaced, removed, or inserted after a named layer."""
    layers = []
    for entry in configs.fashion_cnn_layers():
        name = entry["config"]["name"]
        if name in remove:
            continue
        layers.append((replace or {}).get(name, entry))
        if name in (after or {}):
            layers.append(after[name])
    return configs.sequential(layers, (28, 28, 1))


def test_exact_match_passes_with_full_points():
    result = grade(configs.fashion_cnn())
    assert (result.outcome, result.score, result.max_score) == (Outcome.PASSED, POINTS, POINTS)
    assert result.diagnoses == ()
    assert result.data["model_id"] == 1 and result.data["cell"] == 3


@pytest.mark.parametrize("variant", ["functional", "maxpool2d_alias"])
def test_equivalent_spellings_pass(variant):
    if variant == "functional":  # cnn = keras.Model(inputs, outputs), under a name the spec does not list
        result = grade(configs.functional(configs.fashion_cnn_layers(), (28, 28, 1)), ("net",), "Functional")
    else:
        result = grade(fashion(replace={name: configs.max_pool(name, class_name="MaxPool2D")
                                        for name in ("max_pooling2d", "max_pooling2d_1")}))
    assert (result.outcome, result.score, codes(result)) == (Outcome.PASSED, POINTS, [])


def test_valid_padding_on_first_conv_is_a_shape_root_cause():
    result = grade(fashion(replace={"conv2d": configs.conv2d("conv2d", 32, padding="valid", activation="relu")}))
    assert codes(result) == ["shape_mismatch", "param_mismatch"]
    shape = by_code(result, "shape_mismatch")
    assert shape.layer == "conv2d"
    assert (shape.field("actual"), shape.field("expected")) == (str((None, 26, 26, 32)), str((None, 28, 28, 32)))
    assert "padding='same'" in shape.field("fix")
    params = by_code(result, "param_mismatch")
    assert params.layer == "dense"
    assert (params.field("actual"), params.field("expected")) == (6 * 6 * 64 * 100 + 100, 313_700)
    assert "conv2d" in params.field("fix")
    assert result.outcome is Outcome.FAILED
    assert 0 < result.score < POINTS


def test_missing_dropout_is_reported_after_the_dense_layer():
    result = grade(fashion(remove=("dropout",)))
    assert codes(result) == ["layer_missing"]
    missing = result.diagnoses[0]
    assert missing.layer is None
    assert missing.field("class_name") == "Dropout"
    assert "`dense`" in missing.field("position")
    suggestion = ast.parse(missing.field("suggestion"), mode="eval").body
    assert (suggestion.func.id, [arg.value for arg in suggestion.args]) == ("Dropout", [0.4])


@pytest.mark.parametrize("after", ["dense", "dropout"])
def test_extra_dense_is_the_layer_that_was_added(after):
    result = grade(fashion(after={after: configs.dense("dense_extra", 100, activation="relu")}))
    assert codes(result) == ["layer_extra"]
    assert result.diagnoses[0].layer == "dense_extra"
    assert result.diagnoses[0].field("class_name") == "Dense"
    assert result.score < POINTS


def test_average_pooling_instead_of_max_pooling():
    result = grade(fashion(replace={"max_pooling2d": configs.avg_pool("average_pooling2d")}))
    assert codes(result) == ["layer_type_mismatch"]
    swapped = result.diagnoses[0]
    assert swapped.layer == "average_pooling2d"
    assert (swapped.field("actual"), swapped.field("expected")) == ("AveragePooling2D", "MaxPooling2D")


def test_wrong_number_of_outputs_is_only_wrong_output_classes():
    result = grade(fashion(replace={"dense_1": configs.dense("dense_1", 5, activation="softmax")}))
    assert codes(result) == ["wrong_output_classes"]
    wrong = result.diagnoses[0]
    assert (wrong.layer, wrong.field("actual"), wrong.field("expected")) == ("dense_1", 5, 10)


@pytest.mark.parametrize("replace, layer, setting, actual, expected", [
    ({"conv2d": configs.conv2d("conv2d", 32, padding="same", activation="sigmoid")},
     "conv2d", "activation", "sigmoid", "relu"),
    ({"dense_1": configs.dense("dense_1", 10, activation="linear")}, "dense_1", "activation", "linear", "softmax"),
    ({"dropout": configs.dropout("dropout", 0.5)}, "dropout", "rate", 0.5, 0.4),
])
def test_setting_that_changes_neither_shape_nor_count(replace, layer, setting, actual, expected):
    result = grade(fashion(replace=replace))
    assert codes(result) == ["setting_mismatch"]
    found = result.diagnoses[0]
    assert (found.layer, found.field("setting"), found.field("actual"), found.field("expected")) == (
        layer, setting, actual, expected)


@pytest.mark.parametrize("layer, replacement, actual, expected, setting", [
    ("conv2d", configs.conv2d("conv2d", 32, kernel=5, padding="same", activation="relu"),
     5 * 5 * 1 * 32 + 32, 320, "kernel_size"),
    ("conv2d_1", configs.conv2d("conv2d_1", 64, kernel=5, padding="same", activation="relu"),
     5 * 5 * 32 * 64 + 64, 18_496, "kernel_size"),
    ("dense", configs.dense("dense", 100, activation="relu", use_bias=False), 313_600, 313_700, "use_bias"),
])
def test_setting_that_changes_the_count_is_one_param_mismatch(layer, replacement, actual, expected, setting):
    result = grade(fashion(replace={layer: replacement}))
    assert codes(result) == ["param_mismatch"]
    found = result.diagnoses[0]
    assert (found.layer, found.field("actual"), found.field("expected")) == (layer, actual, expected)
    assert setting in found.field("fix")


def test_extra_dense_before_the_output_also_changes_the_output_count():
    result = grade(fashion(after={"dropout": configs.dense("dense_extra", 64, activation="relu")}))
    assert codes(result) == ["layer_extra", "param_mismatch"]
    assert [diagnosis.layer for diagnosis in result.diagnoses] == ["dense_extra", "dense_1"]
    assert (result.diagnoses[1].field("actual"), result.diagnoses[1].field("expected")) == (650, 1010)


@pytest.mark.parametrize("config, units", [
    pytest.param(fashion(replace={"conv2d": configs.conv2d("conv2d", 32, padding="valid", activation="relu")}),
                 5.0, id="valid-padding"),   # 6 layers of the right class with a wrong shape count 1/2
    pytest.param(fashion(remove=("dropout",)), 7.0, id="missing"),
    pytest.param(fashion(after={"dropout": configs.dense("dense_extra", 100)}), 7.0, id="extra"),
    pytest.param(fashion(replace={"max_pooling2d": configs.avg_pool("average_pooling2d")}), 7.0, id="swapped"),
    pytest.param(fashion(replace={"dense_1": configs.dense("dense_1", 5, "softmax")}), 7.5, id="outputs"),
    pytest.param(fashion(replace={"dropout": configs.dropout("dropout", 0.5)}), 7.5, id="setting"),
])
def test_partial_credit_follows_the_documented_rule(config, units):
    result = grade(config)
    assert result.outcome is Outcome.FAILED
    assert result.score == pytest.approx(POINTS * units / 8)


def test_partial_credit_never_goes_below_zero():
    expected = table(configs.conv_only()).to_json()
    padded = configs.sequential([configs.conv2d("conv2d", 2, padding="same"), configs.flatten(),
                                 configs.dense("dense", 4), configs.dense("dense_1", 4)], (32, 32, 3))
    found = FoundModel(configs.record(1, padded), table(padded), 0.25)
    model = parse_spec({"id": "x", "title": "x", "reference": "x", "dataset": "x",
                        "models": [{"key": "conv_same"}],
                        "checks": [{"id": "architecture", "model": "conv_same", "points": 1}]}).model("conv_same")
    result = check_architecture(CHECK, model, expected, found)
    assert codes(result) == ["layer_extra"] * 3
    assert (result.outcome, result.score) == (Outcome.FAILED, 0.0)


@pytest.mark.parametrize("models", [
    pytest.param([], id="no-models"),
    pytest.param([configs.record(1, configs.mnist_dense10())], id="unrelated-model"),
    pytest.param([configs.record(1, None, ("model",))], id="no-config"),
])
def test_model_not_found_is_an_error(models):
    result = grade_records(models)
    assert codes(result) == ["missing_model"]
    assert (result.outcome, result.score, result.max_score) == (Outcome.ERROR, 0.0, POINTS)
    assert result.diagnoses[0].field("model") == MODEL.title


def test_layer_the_grader_cannot_recompute_is_for_the_instructor():
    custom = configs.layer("SpectralPooling", "spectral_pooling")
    result = grade(fashion(after={"dropout": custom}))
    assert "not_recomputed" in codes(result)
    assert by_code(result, "not_recomputed").kind.audience == "instructor"
    assert "spectral_pooling" in by_code(result, "not_recomputed").field("layers")


# --- Helpers the check exposes ---------------------------------------------------------------

@pytest.mark.parametrize("units, shape, params", [
    (4, (None, 4), 256 * 4 + 4), (3, (None, 3), 771), (None, (None, 3), 771),
])
def test_with_output_units_resizes_the_last_dense(units, shape, params):
    expected = table(configs.strided_cnn()).rows
    resized = with_output_units(expected, units)
    assert (resized[-1].output_shape, resized[-1].params, resized[-1].trainable_params) == (shape, params, params)
    assert resized[:-1] == expected[:-1]
    if units:
        assert resized[-1].settings["units"] == units


def test_with_output_units_leaves_other_last_layers_alone():
    expected = table(configs.extractor()).rows
    assert with_output_units(expected, 10) == expected


def _call(text: str) -> tuple[str, list, dict]:
    call = ast.parse(text, mode="eval").body
    return (call.func.id, [ast.literal_eval(arg) for arg in call.args],
            {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords})


@pytest.mark.parametrize("builder, index, expected", [
    (configs.fashion_cnn, 0, ("Conv2D", [32], {"kernel_size": (3, 3), "padding": "same", "activation": "relu"})),
    (configs.fashion_cnn, 1, ("MaxPooling2D", [], {"pool_size": (2, 2)})),
    (configs.fashion_cnn, 4, ("Flatten", [], {})),
    (configs.fashion_cnn, 6, ("Dropout", [0.4], {})),
    (configs.fashion_cnn, 7, ("Dense", [10], {"activation": "softmax"})),
    (configs.avg_pool_cnn, 1, ("AveragePooling2D", [], {"pool_size": (3, 3)})),
    (configs.strided_cnn, 0, ("Conv2D", [64], {"kernel_size": (3, 3), "strides": (2, 2), "padding": "same"})),
])
def test_constructor_is_python_that_builds_the_expected_layer(builder, index, expected):
    assert _call(constructor(table(builder()).rows[index])) == expected
