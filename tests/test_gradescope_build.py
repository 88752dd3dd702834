"""The Gradescope autograder zip, built and then run inside a stand-in for /autograder.

The zip is unpacked as Gradescope does it (its contents in `<root>/source`, `run_autograder`
copied to `<root>`), a real example submission goes into `<root>/submission`, and
`<root>/run_autograder` runs with `AUTOGRADER_ROOT=<root>`, with the cnngrader installed here
(`CNNGRADER_PYTHON`; setup.sh is only parsed, never run) and in quick mode
(`CNNGRADER_AUTOGRADER_MODE=quick`, which only tests set) so that a run takes seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader.gradescope_build import NEEDS, Need, build_autograder, package_root, recommended
from grader.gradescope_run import CONFIG_NAME, main, memory_limit_bytes, read_config, upload_folder
from grader.diagnoses import KINDS
from grader.runner import keras2
from test_gradescope import assert_valid, gradescope_problems

MIGRATION = {kind.code for kind in KINDS if kind.migration}
needs_tf_keras = pytest.mark.skipif(not keras2.available(), reason="tf-keras is not installed (cnngrader[keras2])")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions" / "fashion_cnn"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zip")
    printed: list[str] = []
    path = build_autograder("fashion_cnn", folder / "autograder.zip", report=printed.append)
    return path, printed


def stand_in_root(tmp_path: Path, zip_path: Path, **config) -> Path:
    """Unpack the zip as Gradescope does, honouring the entries' mode bits as unzip does."""
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, source))
            target.chmod((info.external_attr >> 16) & 0o777)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    if config:
        path = source / CONFIG_NAME
        path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return root


def run_autograder(root: Path, python: str | None = sys.executable, mode: str | None = "quick",
                   timeout: float = 120) -> tuple[dict, subprocess.CompletedProcess]:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    env.pop("CNNGRADER_AUTOGRADER_MODE", None)
    if python:
        env["CNNGRADER_PYTHON"] = python
    if mode:
        env["CNNGRADER_AUTOGRADER_MODE"] = mode
    completed = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True,
                               timeout=timeout)
    path = root / "results" / "results.json"
    assert path.is_file(), completed.stdout + completed.stderr
    return json.loads(path.read_text()), completed


def codes_in(results: dict) -> set[str]:
    found = {d["code"] for d in results["extra_data"].get("diagnoses", [])}
    for test in results["tests"]:
        found |= {d["code"] for d in test["extra_data"]["diagnoses"]}
    return found


def test_the_zip_holds_setup_run_autograder_the_wheel_config_and_readme(built):
    path, _ = built
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: info for info in archive.infolist()}
        config = json.loads(archive.read(CONFIG_NAME))
        readme = archive.read("README.md").decode()
        (wheel,) = [name for name in entries if name.endswith(".whl")]
        with zipfile.ZipFile(archive.open(wheel)) as wheel_archive:
            packaged = set(wheel_archive.namelist())
    assert {"setup.sh", "run_autograder", CONFIG_NAME, "README.md", wheel} == set(entries)
    for name in ("setup.sh", "run_autograder"):
        assert (entries[name].external_attr >> 16) & 0o777 == 0o755, name
    assert wheel.startswith("cnngrader-") and {"grader/gradescope_run.py", "grader/_bundle/exercises/fashion_cnn/exercise.toml",
                                               "grader/_bundle/reference/expected/fashion_cnn.json"} <= packaged
    assert config == {"exercise": "fashion_cnn", "mode": "full", "leaderboard": False,
                      "grader_version": config["grader_version"], "wheel": wheel, "keras": 3, "extras": []}
    measured = NEEDS["fashion_cnn"]["full"]
    assert f"{measured.seconds:.0f} s" in readme and f"{measured.peak_gb:.1f} GB" in readme
    assert "minutes" in readme and "--artifacts" in readme


def test_the_build_prints_the_memory_and_time_the_exercise_needs(built):
    _, printed = built
    text = "\n".join(printed)
    assert "GB" in text and "time limit" in text and "--artifacts" in text


def test_an_artifacts_build_says_what_students_upload(tmp_path):
    wheel = tmp_path / "cnngrader-0.0.0-py3-none-any.whl"
    wheel.write_bytes(b"stand-in")
    path = build_autograder("fashion_cnn", tmp_path / "a.zip", artifacts=True, leaderboard=True,
                            report=lambda line: None, wheel=wheel)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read(CONFIG_NAME))
        readme = archive.read("README.md").decode()
    assert (config["mode"], config["leaderboard"]) == ("artifacts", True)
    assert "`best-cnn-model.keras`" in readme and "leaderboard" in readme.lower()


def wheel_requirement(source: Path) -> str:
    """What setup.sh gives pip to install: the wheel, with the extras the config asks for."""
    script = f'source "{source}/setup.sh"; wheel_requirement "{source}" "{sys.executable}"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def test_a_keras_2_zip_installs_the_wheel_with_tf_keras(built, tmp_path):
    """A Keras 2 exercise's image gets `cnngrader-….whl[keras2]`, whose metadata asks for tf-keras;
    a Keras 3 one gets the wheel alone. Sourcing setup.sh only defines its function."""
    with zipfile.ZipFile(built[0]) as archive:
        (name,) = [entry for entry in archive.namelist() if entry.endswith(".whl")]
        wheel = Path(archive.extract(name, tmp_path / "wheel"))
    path = build_autograder("fashion_cnn", tmp_path / "k2.zip", report=lambda line: None, wheel=wheel, keras=2)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read(CONFIG_NAME))
        readme = archive.read("README.md").decode()
    assert (config["keras"], config["extras"]) == (2, ["keras2"])
    assert "Keras 2" in readme and "keras2" in readme
    source = stand_in_root(tmp_path / "k2", path) / "source"
    assert wheel_requirement(source) == f"{source / name}[keras2]"
    assert wheel_requirement(stand_in_root(tmp_path / "k3", built[0]) / "source").endswith(".whl")
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [entry for entry in archive.namelist() if entry.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    assert "Provides-Extra: keras2" in lines
    assert any(line.startswith("Requires-Dist: tf-keras") and "extra == 'keras2'" in line for line in lines)
    assert read_config(source.parent).keras == 2


def test_the_config_says_which_keras_and_anything_else_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNGRADER_AUTOGRADER_MODE", raising=False)
    (tmp_path / "source").mkdir()
    path = tmp_path / "source" / CONFIG_NAME
    path.write_text(json.dumps({"exercise": "fashion_cnn"}))
    assert read_config(tmp_path).keras == 3
    path.write_text(json.dumps({"exercise": "fashion_cnn", "keras": 4}))
    with pytest.raises(ValueError, match="keras 4"):
        read_config(tmp_path)


@needs_tf_keras
@pytest.mark.kernel
def test_a_keras_2_zip_grades_keras_2_lines_without_migration_diagnoses(built, tmp_path):
    """seed 000's `compile(metrics='accuracy')` in the correct notebook: a migration fault under
    the Keras 3 zip, nothing under the Keras 2 one."""
    legacy = tmp_path / "legacy.ipynb"
    text = (EXAMPLES / "clean--passed--correct.ipynb").read_text()
    assert "metrics=['accuracy']" in text
    legacy.write_text(text.replace("metrics=['accuracy']", "metrics='accuracy'"))
    found = {}
    for keras in (3, 2):
        root = stand_in_root(tmp_path / f"k{keras}", built[0], keras=keras)
        shutil.copy(legacy, root / "submission" / "fashion_cnn.ipynb")
        results, completed = run_autograder(root, timeout=300)
        found[keras] = codes_in(results)
    assert "metrics_not_list" in found[3]
    assert found[2] & MIGRATION == set() and "metrics_not_list" not in found[2]


@pytest.mark.parametrize("script", ["setup.sh", "run_autograder"])
def test_the_scripts_are_valid_bash(built, tmp_path, script):
    root = stand_in_root(tmp_path, built[0])
    subprocess.run(["bash", "-n", str(root / "source" / script)], check=True)


def test_an_unknown_exercise_is_refused_at_build_time(tmp_path):
    with pytest.raises(ValueError, match="unknown exercise"):
        build_autograder("no_such_exercise", tmp_path / "x.zip", report=lambda line: None)


def test_the_wheel_is_built_from_the_source_tree():
    assert (package_root() / "pyproject.toml").is_file()


@pytest.mark.kernel
def test_a_notebook_in_a_folder_is_graded_end_to_end(built, tmp_path):
    root = stand_in_root(tmp_path, built[0])
    folder = root / "submission" / "homework"
    folder.mkdir()
    shutil.copy(EXAMPLES / "layer_missing--failed--no_dropout.ipynb", folder / "fashion_cnn.ipynb")
    results, completed = run_autograder(root)
    assert_valid(results)
    assert completed.returncode == 0
    assert codes_in(results) == {"layer_missing"}
    assert results["extra_data"]["mode"] == "quick" and results["extra_data"]["submission"] == "fashion_cnn"
    assert 0 < results["score"] < results["extra_data"]["max_score"]
    assert isinstance(results["execution_time"], int)
    architecture = next(test for test in results["tests"] if test["extra_data"]["check"] == "architecture")
    assert architecture["extra_data"]["model"] == "cnn" and architecture["status"] == "failed"
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]


def test_a_notebook_that_is_not_json_scores_zero_with_its_diagnosis(built, tmp_path):
    root = stand_in_root(tmp_path, built[0])
    shutil.copy(EXAMPLES / "invalid_notebook--error--not_json.ipynb", root / "submission")
    results, _ = run_autograder(root)
    assert_valid(results)
    assert results["score"] == 0 and codes_in(results) == {"invalid_notebook"}


def test_an_upload_with_nothing_gradable_says_so(built, tmp_path):
    root = stand_in_root(tmp_path, built[0])
    (root / "submission" / "notes.txt").write_text("my answers are on paper")
    results, _ = run_autograder(root)
    assert_valid(results)
    assert results["score"] == 0 and codes_in(results) == {"unsupported_submission"}
    assert ".ipynb" in results["tests"][0]["output"]


def test_an_exercise_missing_from_the_config_still_gives_results_with_the_reason(built, tmp_path):
    root = stand_in_root(tmp_path, built[0], exercise="no_such_exercise")
    shutil.copy(EXAMPLES / "layer_missing--failed--no_dropout.ipynb", root / "submission")
    results, completed = run_autograder(root)
    assert not gradescope_problems(results)
    assert results["score"] == 0 and results["tests"] == [] and codes_in(results) == {"grader_error"}
    assert "unknown exercise 'no_such_exercise'" in results["extra_data"]["error"]
    assert "no\\_such\\_exercise" in results["output"]
    assert "Traceback" in completed.stdout


def test_python_without_grader_still_gives_results(built, tmp_path):
    root = stand_in_root(tmp_path, built[0])
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    results, completed = run_autograder(root, python=str(bare / "bin" / "python"))
    assert not gradescope_problems(results)
    assert results["score"] == 0 and codes_in(results) == {"grader_error"}
    assert results["extra_data"]["error"] == "exit status 1"
    assert "No module named 'grader'" in completed.stdout


def test_a_python_that_does_not_exist_still_gives_results(built, tmp_path):
    root = stand_in_root(tmp_path, built[0])
    results, completed = run_autograder(root, python=str(tmp_path / "nowhere" / "python3"))
    assert not gradescope_problems(results)
    assert results["extra_data"]["error"] == "exit status 127" and "could not be run" in completed.stdout
    assert isinstance(results["execution_time"], int)


def test_without_the_virtual_environment_setup_makes_run_autograder_still_gives_results(built, tmp_path):
    root = stand_in_root(tmp_path, built[0])
    results, _ = run_autograder(root, python=None)
    assert not gradescope_problems(results) and results["score"] == 0


def test_a_stage_that_raises_gives_every_check_as_an_error_with_the_stage(built, tmp_path, monkeypatch):
    """In this process, with grade_submission replaced by one that raises (the patches undone)."""
    import grader.grading

    root = stand_in_root(tmp_path, built[0])
    shutil.copy(EXAMPLES / "layer_missing--failed--no_dropout.ipynb", root / "submission")
    for variable in ("HOME", "TMPDIR", "MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "XDG_CACHE_HOME",
                     "XDG_CONFIG_HOME", "AUTOGRADER_ROOT", "CNNGRADER_AUTOGRADER_MODE"):
        monkeypatch.setenv(variable, os.environ.get(variable, ""))
    monkeypatch.setenv("AUTOGRADER_ROOT", str(root))
    monkeypatch.setenv("CNNGRADER_AUTOGRADER_MODE", "quick")
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)

    def broken(*args, **kwargs):
        raise RuntimeError("the evaluation broke")

    monkeypatch.setattr(grader.grading, "grade_submission", broken)
    assert main() == 1
    results = json.loads((root / "results" / "results.json").read_text())
    assert_valid(results)
    assert len(results["tests"]) == 7 and all(t["extra_data"]["outcome"] == "error" for t in results["tests"])
    (diagnosis,) = results["tests"][0]["extra_data"]["diagnoses"]
    assert diagnosis["code"] == "grader_error"
    assert "grading the submission: RuntimeError: the evaluation broke" in diagnosis["message"]


@pytest.mark.kernel
@pytest.mark.slow
def test_artifacts_mode_grades_the_uploaded_model_and_posts_the_leaderboard(built, tmp_path):
    """The evaluation process imports TensorFlow (in its own process, not this one)."""
    root = stand_in_root(tmp_path, built[0], mode="artifacts", leaderboard=True)
    shutil.copytree(EXAMPLES / "artifacts" / "clean--passed--trained_model", root / "submission" / "upload")
    results, _ = run_autograder(root, mode=None, timeout=300)
    assert_valid(results)
    accuracy = next(test for test in results["tests"] if test["extra_data"]["check"] == "accuracy")
    assert results["extra_data"]["mode"] == "artifacts" and accuracy["status"] == "passed"
    (entry,) = results["leaderboard"]
    assert entry["name"] == "Test accuracy" and entry["value"] == accuracy["extra_data"]["view"]["accuracy"]


def test_the_upload_folder_is_followed_down_single_folders(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "a" / "b" / "work.ipynb").write_text("{}")
    assert upload_folder(tmp_path) == tmp_path / "a" / "b"
    (tmp_path / "a" / "c").mkdir()
    assert upload_folder(tmp_path) == tmp_path / "a"


@pytest.mark.parametrize("content, expected", [
    ("max", 8 * 2**30), ("3221225472", 3 * 2**30 - 640 * 2**20), ("100", 256 * 2**20), (None, 8 * 2**30),
])
def test_the_submission_memory_limit_follows_the_container(tmp_path, content, expected):
    path = tmp_path / "memory.max"
    if content is not None:
        path.write_text(content + "\n")
    assert memory_limit_bytes((path,)) == expected


def test_the_mode_variable_overrides_the_zips_mode_and_is_checked(tmp_path, monkeypatch):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / CONFIG_NAME).write_text(json.dumps({"exercise": "fashion_cnn", "mode": "full"}))
    monkeypatch.delenv("CNNGRADER_AUTOGRADER_MODE", raising=False)
    assert read_config(tmp_path).mode == "full"
    monkeypatch.setenv("CNNGRADER_AUTOGRADER_MODE", "quick")
    assert read_config(tmp_path).mode == "quick"
    monkeypatch.setenv("CNNGRADER_AUTOGRADER_MODE", "fast")
    with pytest.raises(ValueError, match="fast"):
        read_config(tmp_path)


@pytest.mark.parametrize("need, memory, limit", [
    (Need(223.0, 1.6), 2.0, 15), (Need(23.0, 1.5), 2.0, 5), (Need(900.0, 2.3), 3.0, 45),
])
def test_recommended_settings(need, memory, limit):
    settings = recommended(need)
    assert (settings["memory_gb"], settings["limit_minutes"]) == (memory, limit)
