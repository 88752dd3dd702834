"""How a submission is run: limits, quick mode, data, and the folder it runs in."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..evidence import EvidenceError, probe_payload_from_json
from . import keras2
from .sandbox import Confinement, Isolation, Limits, detect

# Variables a submission's process inherits; everything else (tokens, grader settings, the
# grader's HOME and Jupyter paths) stays out.
PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "PYTHONHASHSEED", "OMP_NUM_THREADS",
                      "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "CUDA_VISIBLE_DEVICES",
                      "KERAS_BACKEND")


@dataclass(frozen=True)
class RunOptions:
    """Settings of one grading run, shared by every submission in it."""

    cell_timeout: float = 600.0
    """Seconds one cell (or a module's import and entry points) may run."""
    submission_timeout: float = 3600.0
    """Seconds the whole submission may run, kernel start included."""
    memory_limit_bytes: int | None = 8 * 2**30
    """Memory of the submission's processes; past it they are killed."""
    max_processes: int = 512
    max_file_bytes: int = 2**30
    max_disk_bytes: int = 4 * 2**30
    max_output_bytes: int = 2**20
    interrupt_grace: float = 10.0
    """Seconds a cell gets after its interrupt before the kernel's processes are killed."""
    quick: bool = False
    fit_batches: int = 20
    """In quick mode: batches per capped fit (one epoch)."""
    eval_samples: int = 256
    """In quick mode: samples kept for validation, evaluate and predict."""
    keras_home: Path | None = None
    """Prepared folder whose datasets/ serves keras.datasets offline; each submission gets its
    own copy (read-only hard links where the student runs as a user of its own)."""
    data_served: dict = field(default_factory=dict)
    provided_files: dict = field(default_factory=dict)
    """File name -> source path, served into the submission's folder (exercise data)."""
    mode: str = "full"
    """full, quick or artifacts (training capped as in quick, uploaded model files graded)."""
    evaluation: object = field(default=None, compare=False, repr=False)
    """The `data.EvaluationSet` the grader's evaluation uses: images and labels held by the grader,
    never written into the submission's folder or its probe configuration."""
    evaluation_timeout: float = 300.0
    isolation: object = field(default=None, compare=False)
    """The `sandbox.Isolation` the runs get; None: the strongest this machine allows."""
    hidden: tuple = ()
    """Folders and files of the grader's a jail hides besides the usual ones (the output folder)."""
    device: str = "CPU"
    """What the submission's kernel computes on: CPU, or the GPU its worker was given."""
    environment: tuple = ()
    """(name, value) pairs the submission's processes get besides the usual (its GPU)."""
    keras: int = 3
    """The Keras the submission runs under: 3, or 2 (tf-keras, `TF_USE_LEGACY_KERAS=1`, and
    `import keras` giving the same Keras 2 as `tensorflow.keras`)."""

    def limits(self) -> Limits:
        return Limits(memory_bytes=self.memory_limit_bytes, processes=self.max_processes,
                      file_bytes=self.max_file_bytes, disk_bytes=self.max_disk_bytes,
                      output_bytes=self.max_output_bytes)

    def isolation_level(self) -> Isolation:
        return self.isolation if self.isolation is not None else detect()

    @contextmanager
    def workspace(self, submission: Path, export_dir: Path | None = None):
        """A fresh folder tree of the submission's own: `work/` (its copy and the provided files,
        where it runs), `home/` (its HOME, with its own KERAS_HOME), `tmp/` and `probe/` (the
        probe's configuration and evidence). Nothing in it is shared with another submission.

        `export_dir`, when given, is where the probe saves the run's models at its end: a folder
        of the grader's, outside the one the submission runs in, that outlives the workspace."""
        root = Path(tempfile.mkdtemp(prefix="cnngrader-run-"))
        isolation = self.isolation_level()
        linked = isolation.uid is not None
        protected: list[Path] = []
        try:
            folders = {name: root / name for name in ("work", "home", "tmp", "probe")}
            for folder in folders.values():
                folder.mkdir()
            os.chmod(root, 0o755)
            copy = folders["work"] / submission.name
            shutil.copyfile(submission, copy)
            for name, source in self.provided_files.items():
                protected.append(_serve(Path(source), folders["work"] / name, linked))
            keras_home = folders["home"] / ".keras"
            keras_home.mkdir()
            if self.keras_home is not None and (Path(self.keras_home) / "datasets").is_dir():
                protected += _serve_tree(Path(self.keras_home) / "datasets", keras_home / "datasets", linked)
            workspace = Workspace(folders["work"], copy, folders["probe"] / "evidence.json",
                                  folders["probe"] / "probe.json", root, folders["home"], tuple(protected))
            workspace.probe_config.write_text(json.dumps({
                "evidence_path": str(workspace.evidence_path), "quick": self.quick,
                "fit_batches": self.fit_batches, "eval_samples": self.eval_samples,
                "serve_mnist": "mnist" in self.data_served,
                "serve_cifar100": "cifar100" in self.data_served,
                "export_dir": str(export_dir) if export_dir is not None else None,
                "keras": self.keras,
            }))
            yield workspace
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def confinement(self, workspace: "Workspace", export_dir: Path | None = None) -> Confinement:
        return Confinement(self.isolation_level(), workspace.root, workspace.folder, self.limits(),
                           extra_visible=(export_dir,) if export_dir is not None else (),
                           hidden=tuple(Path(path) for path in self.hidden), protected=workspace.protected)


def _serve(source: Path, target: Path, linked: bool) -> Path:
    """`source` at `target`: a read-only hard link owned by the grader where the student runs as
    another user (so it can neither change it nor its permissions), else a copy of its own."""
    if linked:
        try:
            os.chmod(source, 0o444)
            os.link(source, target)
            return target
        except OSError:
            pass
    shutil.copyfile(source, target)
    if linked:
        os.chmod(target, 0o444)
    return target


def _serve_tree(source: Path, target: Path, linked: bool) -> list[Path]:
    served = [target]
    for folder, _, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        served.append(target / relative)
        for name in files:
            served.append(_serve(Path(folder) / name, target / relative / name, linked))
    return served


@dataclass(frozen=True)
class Workspace:
    folder: Path
    """Where the submission runs: its copy and the provided files."""
    submission: Path
    evidence_path: Path
    probe_config: Path
    root: Path
    home: Path
    protected: tuple = ()
    """Served files and folders that stay the grader's (read-only for the student's user)."""


def evidence_fields(payload: dict) -> dict:
    """The parts of the probe's report that become Evidence fields as they are."""
    return {key: payload[key] for key in ("models", "fits", "saves", "weights", "exports")}


def read_probe_payload(path: Path) -> tuple[dict | None, str | None]:
    """The probe's report parsed strictly, or None and what was wrong with it."""
    try:
        return probe_payload_from_json(json.loads(path.read_text())), None
    except FileNotFoundError:
        return None, "no evidence file was written"
    except (json.JSONDecodeError, UnicodeDecodeError, EvidenceError, RecursionError) as error:
        return None, f"unreadable evidence: {error}"


def submission_environment(workspace: Workspace, options: RunOptions) -> dict[str, str]:
    """The environment of the submission's process: a short allow-list plus what it needs."""
    env = base_environment(options.keras)
    env.update(dict(options.environment))
    env.update({
        "HOME": str(workspace.home),
        "KERAS_HOME": str(workspace.home / ".keras"),
        "TMPDIR": str(workspace.root / "tmp"),
    })
    return env


def base_environment(keras: int = 3) -> dict[str, str]:
    """What every submission's environment holds whatever its workspace: the allow-list of the
    grader's own variables, fixed settings and the Keras mode's (also the warm server's
    environment)."""
    env = {key: os.environ[key] for key in PASSED_ENVIRONMENT if key in os.environ}
    if keras == 2:
        env.update(keras2.ENVIRONMENT)
    env.update({
        "USER": "student",
        "LOGNAME": "student",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "CNNGRADER_OFFLINE": "1",
    })
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    return env
