"""Fail closed on what the grader cannot read (issue #13): a model config it cannot read, and
student code or configs nested deep enough to exhaust Python's stack, each end as a named
diagnosis in a full result: never a pass, never a crash, never `grader_error`.

Layer 1: hand-made evidence, no TensorFlow, no kernel.
"""

from __future__ import annotations

import json
import time

import pytest

import configs
from grader.checks.errors import TREE_DEPTH_LIMIT, classify_error, parse_cell
from grader.checks.models import read_tables, tables_for
from grader.checks.pooling import check_pooling
from grader.evaluate import evaluate
from grader.evidence import CellError, CellRun, Evidence, ModelRecord
from grader.exercises import CheckSpec, load_spec
from grader.layers import MAX_CONFIG_DEPTH, UnreadableConfig, nesting_depth, table_from_config
from grader.reference import load_expected
from grader.report.html import render_report
from grader.results import Outcome, codes

POOLING = CheckSpec(id="pooling", name="Feature maps keep a size", points=2.0)
EXERCISES = ("fashion_cnn", "cnn_transfer", "fashion_conv_intro", "fashion_pooling", "mnist_models")


def grade(evidence: Evidence, exercise: str = "fashion_cnn"):
    spec = load_spec(exercise)
    return evaluate(spec, load_expected(spec.reference), evidence, "student")


def check(result, check_id: str):
    return next(item for item in result.checks if item.check == check_id)


# --- Configs the grader cannot read ----------------------------------------------------------

def deep_list(depth: int, leaf):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_models(depth: int) -> dict:
    """A Sequential inside a Sequential, `depth` times: what no student builds by hand."""
    config = configs.sequential([configs.dense("dense", 10)], (784,))
    for level in range(depth):
        config = configs.sequential([{**configs.nested(config), "class_name": "Sequential"}], (784,),
                                    name=f"sequential_{level}")
    return config


def with_last_layer(**changes) -> dict:
    config = configs.fashion_cnn()
    config["layers"][-1]["config"].update(changes)
    return config


def without_units() -> dict:
    config = configs.fashion_cnn()
    del config["layers"][-1]["config"]["units"]
    return config


def with_key(key: str, value) -> dict:
    return {**configs.fashion_cnn(), key: value}


def with_layer(index: int, entry) -> dict:
    config = configs.fashion_cnn()
    config["layers"][index] = entry
    return config


def deep_inbound() -> dict:
    config = configs.functional(configs.fashion_cnn_layers(), (28, 28, 1))
    config["layers"][2]["inbound_nodes"] = deep_list(5_000, ["conv2d", 0, 0])
    return config


# (id, builder, class name, what the problem names)
UNREADABLE = [
    ("units-missing", without_units, "Sequential", "`dense_1`"),
    ("units-a-word", lambda: with_last_layer(units="ten"), "Sequential", "`dense_1`"),
    ("units-not-a-number", lambda: with_last_layer(units=float("nan")), "Sequential", "`dense_1`"),
    ("layers-a-string", lambda: with_key("layers", "abc"), "Sequential", "no layers"),
    ("a-model-subclass", lambda: {"width": 32, "trainable": True, "dtype": configs.DTYPE}, "CNN", "no layers"),
    ("layers-of-numbers", lambda: with_key("layers", [1, 2]), "Sequential", "entry"),
    ("layer-a-number", lambda: with_layer(3, 7), "Sequential", "entry"),
    ("class-name-a-list", lambda: with_layer(3, {**configs.max_pool("p"), "class_name": ["Dense"]}), "Sequential", "`p`"),
    ("layer-name-a-dict", lambda: with_layer(3, configs.layer("Dense", {"a": 1}, units=3)), "Sequential", "Dense"),
    ("models-nested-5000-deep", lambda: nested_models(5_000), "Sequential", f"{MAX_CONFIG_DEPTH} levels"),
    ("inbound-nodes-5000-deep", deep_inbound, "Functional", f"{MAX_CONFIG_DEPTH} levels"),
    ("batch-shape-5000-deep", lambda: with_layer(0, {**configs.input_layer((28, 28, 1)),
                                                     "config": {"batch_shape": deep_list(5_000, 1)}}),
     "Sequential", f"{MAX_CONFIG_DEPTH} levels"),
]
IDS = [case[0] for case in UNREADABLE]


@pytest.mark.parametrize("case, build, class_name, named", UNREADABLE, ids=IDS)
def test_an_unreadable_config_raises_one_error_naming_what(case, build, class_name, named):
    with pytest.raises(UnreadableConfig) as raised:
        table_from_config(class_name, build())
    assert named in str(raised.value)


@pytest.mark.parametrize("case, build, class_name, named", UNREADABLE, ids=IDS)
def test_pooling_does_not_pass_on_the_other_models(case, build, class_name, named):
    evidence = configs.evidence(configs.record(1, configs.fashion_cnn(), cell=2),
                                configs.record(2, build(), ("broken",), class_name, cell=5))
    tables, unreadable = read_tables(evidence)
    assert set(tables) == {1} and set(unreadable) == {2}
    result = check_pooling(POOLING, evidence, tables, unreadable)
    assert (result.outcome, result.score) == (Outcome.ERROR, 0.0)
    (diagnosis,) = result.diagnoses
    assert (diagnosis.code, diagnosis.cell) == ("model_unreadable", 5)
    assert diagnosis.field("model") == "`broken`" and named in diagnosis.field("problem")
    assert diagnosis.message and diagnosis.hint and len(diagnosis.field("problem")) <= 300


def test_a_collapse_and_an_unreadable_model_are_both_said():
    evidence = configs.evidence(configs.record(1, configs.pooled_strided_cnn(), cell=6),
                                configs.record(2, without_units(), cell=7))
    result = check_pooling(POOLING, evidence, *read_tables(evidence))
    assert result.outcome is Outcome.FAILED and result.score == 0.0
    assert [(d.code, d.cell) for d in result.diagnoses] == [("pooling_collapse", 6), ("model_unreadable", 7)]


def test_a_model_keras_could_not_give_a_config_of_is_unreadable_too():
    refused = ModelRecord(id=2, cell=3, names=("net",), class_name="MyModel", config=None,
                          config_error="NotImplementedError: Layer MyModel has arguments ['width'] in `__init__()`")
    evidence = configs.evidence(configs.record(1, configs.fashion_cnn(), cell=2), refused)
    tables, unreadable = read_tables(evidence)
    assert set(tables) == {1} and "NotImplementedError" in unreadable[2]
    (diagnosis,) = check_pooling(POOLING, evidence, tables, unreadable).diagnoses
    assert diagnosis.code == "model_unreadable" and "NotImplementedError" in diagnosis.detail


def test_a_model_seen_without_config_or_error_stays_out_as_before():
    evidence = configs.evidence(configs.record(1, configs.fashion_cnn()), configs.record(2, None))
    assert read_tables(evidence) == (tables_for(evidence), {})


def test_the_role_an_unreadable_model_holds_the_name_of_is_not_graded_on_another():
    """`model` is the name the exercise gives: the readable `other` may not be the answer."""
    evidence = Evidence(kind="notebook", cells=(CellRun(2, "other = ...", "ok"), CellRun(5, "model = ...", "ok")),
                        models=(configs.record(1, configs.fashion_cnn(), ("other",), cell=2),
                                configs.record(2, without_units(), ("model",), cell=5)))
    result = grade(evidence)
    architecture = check(result, "architecture")
    assert (architecture.outcome, architecture.score) == (Outcome.ERROR, 0.0)
    assert [(d.code, d.cell, d.field("model")) for d in architecture.diagnoses] == [("model_unreadable", 5, "`model`")]
    assert check(result, "pooling").outcome is Outcome.ERROR
    assert not any(item.outcome is Outcome.PASSED for item in result.checks if item.model == "cnn")
    assert "missing_model" not in codes(result) and "grader_error" not in codes(result)


def test_a_role_answered_by_a_readable_model_of_its_name_is_graded_but_pooling_is_not_passed():
    evidence = configs.evidence(configs.record(1, configs.fashion_cnn(), ("model",), cell=2),
                                configs.record(2, without_units(), ("model",), cell=5))
    result = grade(evidence)
    assert check(result, "architecture").outcome is Outcome.PASSED
    pooling = check(result, "pooling")
    assert (pooling.outcome, [d.code for d in pooling.diagnoses]) == (Outcome.ERROR, ["model_unreadable"])


def test_only_an_unreadable_model_is_why_the_model_is_not_judged_not_missing():
    result = grade(configs.evidence(configs.record(1, nested_models(5_000), ("cnn",), cell=3)))
    architecture = check(result, "architecture")
    assert architecture.outcome is Outcome.ERROR
    assert [d.code for d in architecture.diagnoses] == ["model_unreadable"]
    assert "missing_model" not in codes(result)


@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize("case, build, class_name, named", UNREADABLE, ids=IDS)
def test_every_exercise_grades_an_unreadable_model_to_a_full_result(exercise, case, build, class_name, named):
    broken = build()
    evidence = Evidence(kind="notebook", cells=(CellRun(1, "x = 1", "ok"),), models=(
        configs.record(1, configs.fashion_cnn(), ("cnn",), cell=1),
        ModelRecord(id=2, cell=1, names=("model", "load_sub_model"), class_name=class_name, config=broken),
        ModelRecord(id=3, cell=1, names=("activations",), class_name=class_name, config=broken, submodels=(2,))))
    result = grade(evidence, exercise)
    assert "model_unreadable" in codes(result) and "grader_error" not in codes(result)
    assert check(result, "pooling").outcome is not Outcome.PASSED
    render_report(result)
    json.dumps([diagnosis.to_json() for item in result.checks for diagnosis in item.diagnoses])


@pytest.mark.parametrize("outputs", [{"x": 1}, 5, [5], [[]], "dense_1", {"x": ["dense_1", 0, 0]}])
@pytest.mark.parametrize("exercise", EXERCISES)
def test_output_layers_of_any_shape_are_read_without_a_crash(exercise, outputs):
    config = {**configs.functional(configs.fashion_cnn_layers(), (28, 28, 1)), "output_layers": outputs}
    evidence = configs.evidence(configs.record(1, config, ("model", "activations"), "Functional", cell=1))
    assert "grader_error" not in codes(grade(evidence, exercise))


def test_nesting_depth_is_counted_without_recursion_and_stops_past_the_limit():
    assert nesting_depth(1, 10) == 0 and nesting_depth({"a": [1, {"b": []}]}, 10) == 4
    assert nesting_depth(deep_list(100_000, 1), 10) == 11
    assert nesting_depth(configs.fashion_cnn(), MAX_CONFIG_DEPTH) < 20


def test_real_nested_models_are_well_within_the_depth_limit():
    table = table_from_config("Sequential", nested_models(25))
    assert table.output_shape == (None, 10) and table.params == 7_850


# --- Student code nested deep enough to exhaust a parser -------------------------------------

DEEP_SOURCES = {
    "brackets-1000": "x = " + "[" * 1000 + "]" * 1000,
    "additions-500": "x = " + "1+" * 500 + "1",
    "minus-signs-5000": "x = " + "-" * 5000 + "1",
    "metrics-500": "model.compile(optimizer='adam', loss='mse', metrics=" + "1+" * 500 + "1)",
    "positional-500": "model.compile('adam', 'mse', " + "1+" * 500 + "1)",
    "argument-500": "model.fit(x, y, epoch=" + "1+" * 500 + "1)",
}
KERNEL_ERRORS = [
    ("SyntaxError", "too many nested parentheses (<ipython-input-1-2f3a>, line 1)", "syntax_error"),
    ("RecursionError", "maximum recursion depth exceeded during compilation", "runtime_error"),
    ("MemoryError", "", "runtime_error"),
    ("ValueError", "Expected `loss_weights` argument to be a float, got accuracy", "compile_positional_metrics"),
    ("ValueError", "Expected `metrics` argument to be a list, tuple, or dict. Received instead: "
                   "metrics=accuracy of type <class 'str'>", "metrics_not_list"),
    ("TypeError", "TensorFlowTrainer.fit() got an unexpected keyword argument 'epoch'", "unknown_fit_argument"),
    ("NameError", "name 'modle' is not defined", "name_error"),
]


@pytest.mark.parametrize("source", DEEP_SOURCES.values(), ids=DEEP_SOURCES.keys())
def test_a_cell_too_deep_for_pythons_parser_is_read_as_one_that_does_not_parse(source):
    assert parse_cell(source) is None
    assert parse_cell("x = " + "[" * (TREE_DEPTH_LIMIT // 2) + "]" * (TREE_DEPTH_LIMIT // 2)) is not None


@pytest.mark.parametrize("ename, evalue, code", KERNEL_ERRORS, ids=[error[0] + "-" + error[2] for error in KERNEL_ERRORS])
@pytest.mark.parametrize("source", DEEP_SOURCES.values(), ids=DEEP_SOURCES.keys())
def test_a_deep_cell_ends_as_its_diagnosis_in_a_full_result(source, ename, evalue, code):
    later = CellRun(2, "modle.fit(x, y)", "error", CellError("NameError", "name 'modle' is not defined"))
    evidence = Evidence(kind="notebook", cells=(CellRun(1, source, "error", CellError(ename, evalue)), later))
    result = grade(evidence)
    execution = check(result, "execution")
    assert execution.outcome is Outcome.FAILED and execution.diagnoses[0].code == code
    assert execution.diagnoses[0].cell == 1 and "grader_error" not in codes(result)
    assert result.sources[1] == source
    render_report(result)


def test_a_module_too_deep_to_parse_is_a_syntax_error_of_the_module():
    source = "def build_model():\n    return " + "(" * 1000 + ")" * 1000 + "\n"
    run = CellRun(None, source, "error", CellError("SyntaxError", "too many nested parentheses", line=2))
    diagnosis = classify_error(run, file="solution.py")
    assert (diagnosis.code, diagnosis.line, diagnosis.field("where")) == ("syntax_error", 2, "solution.py, line 2")


@pytest.mark.parametrize("ename, evalue", [
    ("ValueError", "a" * 1_000_000),
    ("SyntaxError", " " * 1_000_000),
    ("ValueError", "Invalid filepath extension for saving. Received: filepath=" + " " * 1_000_000 + "model"),
    ("AttributeError", "module 'keras.layers' has no attribute 'experimental'"),
])
def test_an_error_text_of_megabytes_is_read_in_a_moment(ename, evalue):
    source = "x = " + "a" * 1_000_000 + ".experimental.preprocessing.Rescaling(1)\n"
    started = time.monotonic()
    diagnosis = classify_error(CellRun(3, source, "error", CellError(ename, evalue)))
    assert time.monotonic() - started < 5.0
    assert diagnosis.cell == 3 and len(diagnosis.message) < 2_000 + len(source) // 100
