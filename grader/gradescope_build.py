"""`cnngrader gradescope build ID -o ZIP`: the autograder zip Gradescope's specification asks for.

At the zip's root: `setup.sh` (installs Python, TensorFlow's CPU build, the bundled cnngrader
wheel and the data), an executable `run_autograder` (grades `<root>/submission` with
`python -m grader.gradescope_run` and always leaves `<root>/results/results.json`), the wheel,
`cnngrader-autograder.json` (what run_autograder grades, and how) and a README stating what the
exercise needs on Gradescope, measured.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import grader

from .diagnoses import diagnose
from .exercises import ExerciseSpec, load_spec
from .gradescope_run import CONFIG_NAME
from .reference import load_expected
from .report.feedback import diagnosis_lines
from .report.gradescope import SCHEMA, markdown_lines

FILES = Path(__file__).resolve().parent / "gradescope_files"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)
"""Every zip entry's timestamp, so that two builds of the same inputs are the same bytes."""
GRADESCOPE_DEFAULT = "768 MB of memory and half a CPU; a 10-minute limit, 40 at most"


@dataclass(frozen=True)
class Need:
    """What grading one correct, seed-scale submission took, measured by benchmarks/grading_modes.py."""

    seconds: float
    """Wall time of `cnngrader grade` on 2 cores, the notebook's training included."""
    peak_gb: float
    """Peak resident memory of the grader's whole process tree (grader, kernel, evaluation), GiB."""


# Measured by `python benchmarks/grading_modes.py --exercise ID --modes artifacts full` on this
# project's machine (2 cores, no GPU, TensorFlow 2.21 CPU, Python 3.11), 2026-12-02, one run each,
# while other test runs shared the cores (times may be inflated). The notebook graded is the
# seed-scale correct one the benchmark describes (all the training data, the seed's epochs).
# Peak memory: the whole process tree's resident memory, summed, sampled every 0.25 s (GiB).
# fashion_conv_intro pinned to one core (`--cpus 1`) took 245 s full and 23 s artifacts: no
# slower than on the two shared cores, so doubling the 2-core time for 1 CPU is on the safe side.
# Kept here, not in exercise.toml: they are what this grader costs on one machine, re-measured
# when the grader changes, not part of what an exercise asks.
NEEDS: dict[str, dict[str, Need]] = {
    "fashion_cnn": {"full": Need(162.0, 1.72), "artifacts": Need(23.6, 1.60)},
    "fashion_pooling": {"full": Need(246.5, 1.62), "artifacts": Need(31.9, 1.60)},
    "fashion_conv_intro": {"full": Need(247.7, 1.99), "artifacts": Need(29.2, 1.37)},
    "mnist_models": {"full": Need(75.4, 1.07), "artifacts": Need(24.6, 1.04)},
    "cnn_transfer": {"full": Need(702.3, 2.34), "artifacts": Need(68.5, 2.32)},
}
MEASURED = "2026-12-02, 2 cores, TensorFlow 2.21 CPU, benchmarks/grading_modes.py"


class BuildError(ValueError):
    """The zip cannot be built here (no source tree to build the wheel from, pip failed). A
    ValueError, so that `cnngrader` reports it in one line with exit status 1."""


def build_autograder(exercise_id: str, output: Path, artifacts: bool = False, leaderboard: bool = False,
                     report=print, wheel: Path | None = None, keras: int | None = None) -> Path:
    """Write the autograder zip for `exercise_id` to `output` and return its path. `wheel`: a
    cnngrader wheel already built (default: build one from the source tree of this `grader`).
    `keras`: the Keras the submissions run under (default: the exercise's); under 2, setup.sh
    installs the wheel with its `keras2` extra (tf-keras)."""
    spec = load_spec(exercise_id)
    keras = keras or spec.keras
    load_expected(spec.reference)
    mode = "artifacts" if artifacts else "full"
    output = Path(output)
    with tempfile.TemporaryDirectory(prefix="cnngrader-wheel-") as folder:
        wheel = Path(wheel) if wheel else build_wheel(Path(folder), report)
        config = {"exercise": spec.id, "mode": mode, "leaderboard": leaderboard,
                  "grader_version": grader.__version__, "wheel": wheel.name, "keras": keras,
                  "extras": ["keras2"] if keras == 2 else []}
        entries = {
            "setup.sh": ((FILES / "setup.sh").read_bytes(), 0o755),
            "run_autograder": (run_autograder_script().encode(), 0o755),
            CONFIG_NAME: ((json.dumps(config, indent=1) + "\n").encode(), 0o644),
            "README.md": (readme(spec, mode, leaderboard, keras).encode(), 0o644),
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, (content, mode_bits) in entries.items():
                archive.writestr(_entry(name, mode_bits), content)
            archive.writestr(_entry(wheel.name, 0o644, zipfile.ZIP_STORED), wheel.read_bytes())
    for line in needs_lines(spec.id, mode):
        report(line)
    if leaderboard and any(check.id == "accuracy" and check.visibility != "visible" for check in spec.checks):
        report("Note: the leaderboard shows each student's accuracy at once, although the accuracy check "
               "itself is shown only after the deadline.")
    return output


def _entry(name: str, mode_bits: int, compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.external_attr = (0o100000 | mode_bits) << 16
    info.create_system = 3  # Unix, so that unzip honours the mode bits
    info.compress_type = compression
    return info


def package_root() -> Path:
    """The source tree of the installed `grader` (a clone or an editable install)."""
    root = Path(grader.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "cnngrader"' not in pyproject.read_text():
        raise BuildError(
            f"cnngrader is installed at {root} without its source tree (no pyproject.toml there), so "
            "the wheel the autograder installs cannot be built from it. Build the zip from a clone: "
            "`git clone ...; cd cnngrader; pip install -e .; cnngrader gradescope build ID -o autograder.zip`.")
    return root


def build_wheel(folder: Path, report=print) -> Path:
    """Build the cnngrader wheel into `folder` with pip; hatchling from this environment when it
    has it, else from pip's isolated build (which needs the network)."""
    root = package_root()
    isolated = importlib.util.find_spec("hatchling") is None
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(root)]
    if not isolated:
        command.insert(5, "--no-build-isolation")
    report(f"building the cnngrader wheel from {root}"
           + (" (hatchling is not installed here: pip fetches it)" if isolated else ""))
    completed = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(folder.glob("cnngrader-*.whl"))
    if completed.returncode != 0 or not wheels:
        raise BuildError(f"building the cnngrader wheel failed ({' '.join(command)}):\n"
                         f"{completed.stderr.strip() or completed.stdout.strip()}\n"
                         "Install hatchling (`pip install hatchling`) and try again.")
    return wheels[-1]


def fallback_results() -> str:
    """The results.json run_autograder writes when the Python step could not write one, in the
    catalogue's words; `EXITSTATUSPLACEHOLDER` and `SECONDSPLACEHOLDER` are filled in by the script."""
    diagnosis = diagnose("grader_error", path="your submission",
                         problem="the grading step stopped with exit status EXITSTATUSPLACEHOLDER before writing its results")
    results = {
        "score": 0.0,
        "execution_time": "SECONDSPLACEHOLDER",
        "output": markdown_lines(diagnosis_lines(diagnosis)),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"schema": SCHEMA, "grader_version": grader.__version__,
                       "diagnoses": [diagnosis.to_json()], "error": "exit status EXITSTATUSPLACEHOLDER"},
    }
    return json.dumps(results, indent=1).replace('"SECONDSPLACEHOLDER"', "SECONDSPLACEHOLDER")


def run_autograder_script() -> str:
    return (FILES / "run_autograder").read_text().replace("@FALLBACK_JSON@", fallback_results())


def recommended(need: Need) -> dict:
    """Gradescope settings for a measured need: memory with a quarter to spare, rounded up to half
    a GB; time on 1 CPU (twice the 2-core figure: training is CPU-bound) with half again to spare,
    rounded up to 5 minutes."""
    memory = math.ceil(need.peak_gb * 1.25 * 2) / 2
    one_cpu_minutes = need.seconds * 2 / 60
    limit = max(5, math.ceil(one_cpu_minutes * 1.5 / 5) * 5)
    return {"memory_gb": memory, "one_cpu_minutes": one_cpu_minutes, "limit_minutes": limit,
            "half_cpu_minutes": one_cpu_minutes * 2}


def needs_lines(exercise_id: str, mode: str) -> list[str]:
    """What the build prints, and the README states, about the resources the exercise needs."""
    measured = NEEDS.get(exercise_id, {})
    need = measured.get(mode)
    if need is None:
        return [f"{exercise_id} in {mode} mode has not been measured: run `python benchmarks/grading_modes.py "
                f"--exercise {exercise_id}` and size the container from its figures."]
    settings = recommended(need)
    lines = [
        f"Measured ({MEASURED}): {exercise_id} in {mode} mode took {need.seconds:.0f} s and a peak of "
        f"{need.peak_gb:.1f} GB of memory (grader, student's kernel and evaluation process together).",
        f"Gradescope's default container ({GRADESCOPE_DEFAULT}) is too small: give it at least "
        f"{settings['memory_gb']:.1f} GB and 1 CPU, and a time limit of {settings['limit_minutes']} minutes "
        f"(expect about {settings['one_cpu_minutes']:.1f} min on 1 CPU, "
        f"{settings['half_cpu_minutes']:.1f} min on half a CPU).",
    ]
    other = measured.get("artifacts")
    if mode == "full" and other is not None:
        lines.append(f"Where the time limit is short, build with --artifacts: students upload the model "
                     f"files their notebook saves, the notebook runs capped, and grading took "
                     f"{other.seconds:.0f} s here.")
    if settings["limit_minutes"] > 40:
        lines.append("That is over Gradescope's 40-minute maximum: use --artifacts for this exercise.")
    return lines


def readme(spec: ExerciseSpec, mode: str, leaderboard: bool, keras: int = 3) -> str:
    uploads = ("their notebook (`.ipynb`); a module (`.py`) or a saved model (`.keras`) is graded too"
               if mode == "full" else
               "their notebook (`.ipynb`) and the model files it saves ("
               + ", ".join(artifact_names(spec)) + ")")
    needs = "\n".join(f"- {line}" for line in needs_lines(spec.id, mode))
    legacy = ("\nSubmissions run under **Keras 2** (tf-keras, with `TF_USE_LEGACY_KERAS=1`), as a course "
              "written for Keras 2 ran: `setup.sh` installs the wheel with its `keras2` extra.\n"
              if keras == 2 else "")
    board = ("\nThe leaderboard shows the grader's test accuracy of each submission as soon as it is "
             "graded, whatever the accuracy check's visibility.\n" if leaderboard else "")
    return f"""# Gradescope autograder: {spec.id}

{spec.title}. Built by cnngrader {grader.__version__} on {date.today().isoformat()}, in **{mode}** mode
(leaderboard {'on' if leaderboard else 'off'}).

Upload this zip as the assignment's autograder (Configure Autograder, zip file upload). Students
upload {uploads}; a folder or a zip of a folder is fine.

## What it needs on Gradescope

{needs}
- Base image: Ubuntu (22.04 or 24.04). `setup.sh` installs Python 3.11 or newer, the CPU build of
  TensorFlow, the bundled cnngrader wheel and Fashion-MNIST (Debian's package, else one download
  during setup): grading itself runs offline.
{legacy}{board}
## What students see

One test per check of the exercise, worth its points, with the diagnoses in Markdown. A check
whose visibility in `exercise.toml` is `after_due_date` (the measured accuracy) is shown after
the deadline; the summary says how many checks are not shown.

## When something breaks

`run_autograder` always leaves `results/results.json`. A submission that cannot be graded (nothing
gradable uploaded, a notebook that is not JSON) gets a score and a message, like any other. When
the grader itself fails, the submission scores 0 with a `grader_error` saying where, and the
autograder output (stdout, shown to instructors) holds the traceback; exit status 137 there means
the container ran out of memory: raise its memory. Regrade once it is fixed.

Files: `setup.sh`, `run_autograder`, `{CONFIG_NAME}` (exercise, mode, leaderboard, grader
version, Keras version and the wheel's extras to install), the cnngrader wheel.
"""


def artifact_names(spec: ExerciseSpec) -> list[str]:
    graded = {check.model for check in spec.checks if check.id == "accuracy"}
    return [f"`{model.artifact}`" if model.artifact else f"the file the notebook saves {model.title} to"
            for model in spec.models if model.key in graded]
