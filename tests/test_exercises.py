"""Exercise specs (grader/exercises.py): the committed ones load, bad ones raise SpecError."""

from __future__ import annotations

import copy
import json

import pytest

from grader.checks.registry import CHECKS
from grader.exercises import SpecError, load_all, load_spec, parse_spec
from grader.resources import expected_dir, exercises_dir

EXERCISES = ("cnn_transfer", "fashion_cnn", "fashion_conv_intro", "fashion_pooling", "mnist_models")


def test_all_five_specs_load():
    assert tuple(spec.id for spec in load_all()) == EXERCISES


@pytest.mark.parametrize("exercise", EXERCISES)
def test_spec_is_consistent_with_its_expected_file(exercise):
    spec = load_spec(exercise)
    assert spec.id == exercise == spec.folder.name
    recorded = json.loads((expected_dir() / f"{spec.reference}.json").read_text())["models"]
    assert {model.key for model in spec.models} <= set(recorded)
    architecture = [check for check in spec.checks if check.id == "architecture"]
    assert architecture, "every exercise grades at least one architecture"
    for check in architecture:
        assert check.model in recorded
        assert spec.model(check.model).key == check.model
    assert all(check.id in CHECKS and check.points >= 0 for check in spec.checks)
    assert len({model.key for model in spec.models}) == len(spec.models)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_model_can_be_found_in_a_module(exercise):
    spec = load_spec(exercise)
    assert all(model.entry_point for model in spec.models)
    assert len(set(spec.entry_points)) == len(spec.entry_points)


def test_unknown_exercise_raises():
    with pytest.raises(SpecError):
        load_spec("no_such_exercise")


def test_unreadable_toml_raises(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "exercise.toml").write_text("id = \n")
    with pytest.raises(SpecError):
        load_spec("broken", tmp_path)


def test_spec_from_another_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    folder.joinpath("exercise.toml").write_text((exercises_dir() / "fashion_cnn" / "exercise.toml").read_text())
    assert load_spec("mine", tmp_path).folder == folder


VALID = {
    "id": "demo", "title": "Demo", "reference": "fashion_cnn", "dataset": "fashion_mnist",
    "models": [{"key": "cnn", "names": ["model"], "output_classes": 10}],
    "checks": [{"id": "execution", "points": 1},
               {"id": "architecture", "model": "cnn", "points": 3, "visibility": "hidden"},
               {"id": "pooling", "points": 1}],
}


def test_valid_spec_parses_with_defaults():
    spec = parse_spec(VALID)
    assert [check.id for check in spec.checks] == ["execution", "architecture", "pooling"]
    assert spec.checks[1].visibility == "hidden" and spec.checks[0].visibility == "visible"
    assert spec.model("cnn").title == "cnn"
    assert spec.checks[0].name == "execution"
    with pytest.raises(SpecError):
        spec.model("mlp")


def _without(data: dict, key: str) -> dict:
    data.pop(key)
    return data


@pytest.mark.parametrize("break_spec", [
    pytest.param(lambda data: data["checks"].append({"id": "accuracy", "points": 1}), id="unknown-check-id"),
    pytest.param(lambda data: data["checks"][1].pop("model"), id="architecture-without-model"),
    pytest.param(lambda data: data["checks"][1].update(model="mlp"), id="architecture-names-unknown-model"),
    pytest.param(lambda data: data["checks"][2].update(points=-1), id="negative-points"),
    pytest.param(lambda data: data["checks"][0].update(points="many"), id="points-not-a-number"),
    pytest.param(lambda data: data["checks"][0].pop("points"), id="points-missing"),
    pytest.param(lambda data: data["checks"][0].update(visibility="secret"), id="unknown-visibility"),
    pytest.param(lambda data: _without(data, "checks"), id="no-checks"),
    pytest.param(lambda data: _without(data, "reference"), id="no-reference"),
    pytest.param(lambda data: data["models"][0].pop("key"), id="model-without-key"),
])
def test_bad_spec_raises_spec_error(break_spec):
    data = copy.deepcopy(VALID)
    break_spec(data)
    with pytest.raises(SpecError):
        parse_spec(data)
