"""The pooling check: does any model shrink a feature map to nothing? (grader/checks/pooling.py)"""

from __future__ import annotations

import re

import pytest

import configs
from grader.checks.models import tables_for
from grader.checks.pooling import check_pooling, collapse_diagnosis
from grader.exercises import CheckSpec
from grader.results import Outcome

CHECK = CheckSpec(id="pooling", name="Feature maps keep a size", points=2.0)


def pool(*records):
    evidence = configs.evidence(*records)
    return check_pooling(CHECK, evidence, tables_for(evidence))


def sizes(trace: str) -> list[str]:
    return re.findall(r"\d+x\d+", trace)


def test_collapse_names_the_layer_and_the_sizes_that_led_there():
    result = pool(configs.record(1, configs.strided_cnn(), cell=4),
                  configs.record(2, configs.pooled_strided_cnn(), cell=6))
    assert (result.outcome, result.score, result.max_score) == (Outcome.FAILED, 0.0, 2.0)
    assert [diagnosis.code for diagnosis in result.diagnoses] == ["pooling_collapse"]
    collapse = result.diagnoses[0]
    assert (collapse.layer, collapse.cell) == ("max_pooling2d_2", 6)
    assert collapse.field("class_name") == "MaxPooling2D"
    assert (collapse.field("size_in"), collapse.field("window"), collapse.field("size_out")) == ("1x1", "2x2", "0x0")
    assert sizes(collapse.field("trace")) == ["32x32", "16x16", "8x8", "4x4", "2x2", "1x1", "0x0"]
    assert "max_pooling2d_2" in collapse.field("trace")
    assert collapse.message and collapse.hint
    (trace,) = result.data["traces"]
    assert (trace["model_id"], trace["cell"], trace["collapse"]) == (2, 6, "max_pooling2d_2")
    assert [step["size_out"] for step in trace["steps"]] == [[16, 16], [8, 8], [4, 4], [2, 2], [1, 1], [0, 0]]
    assert trace["steps"][-1]["window"] == [2, 2]


def test_same_collapse_in_two_models_is_reported_once():
    result = pool(configs.record(1, configs.pooled_strided_cnn(), cell=6),
                  configs.record(2, configs.pooled_strided_cnn(), cell=7))
    assert [(diagnosis.code, diagnosis.cell) for diagnosis in result.diagnoses] == [("pooling_collapse", 6)]


def test_valid_convolution_that_overshoots_collapses_below_zero():
    tiny = configs.sequential([configs.conv2d("conv2d", 8, kernel=5), configs.flatten(), configs.dense("dense", 2)],
                              (3, 3, 1))
    result = pool(configs.record(1, tiny))
    collapse = result.diagnoses[0]
    assert (collapse.code, collapse.layer, collapse.field("size_out")) == ("pooling_collapse", "conv2d", "-1x-1")


@pytest.mark.parametrize("builders", [
    (configs.fashion_cnn,),
    (configs.mnist_dense10, configs.mnist_mlp, configs.mnist_cnn),
    (configs.strided_cnn, configs.classifier),
])
def test_models_that_keep_a_size_pass(builders):
    result = pool(*(configs.record(index, builder()) for index, builder in enumerate(builders, start=1)))
    assert (result.outcome, result.score, result.diagnoses) == (Outcome.PASSED, 2.0, ())


@pytest.mark.parametrize("records", [
    pytest.param((), id="no-models"),
    pytest.param((configs.record(1, None),), id="no-config"),
])
def test_nothing_to_trace_is_skipped(records):
    result = pool(*records)
    assert (result.outcome, result.score, result.diagnoses) == (Outcome.SKIPPED, 0.0, ())


def test_collapse_diagnosis_is_none_without_collapse():
    evidence = configs.evidence(configs.record(1, configs.fashion_cnn()))
    assert collapse_diagnosis(tables_for(evidence)[1], cell=3) is None
