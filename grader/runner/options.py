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

# Variables a submission's process inherits; everything else (tokens, grader settings) stays out.
PASSED_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONHASHSEED", "OMP_NUM_THREADS",
                      "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "CUDA_VISIBLE_DEVICES",
                      "KERAS_BACKEND", "JUPYTER_PATH", "VIRTUAL_ENV")


@dataclass(frozen=True)
class RunOptions:
    """Settings of one grading run, shared by every submission in it."""

    cell_timeout: float = 600.0
    """Seconds one cell (or a module's import and entry points) may run."""
    submission_timeout: float = 3600.0
    """Seconds the whole submission may run, kernel start included."""
    memory_limit_bytes: int | None = 8 * 2**30
    """Resident memory of the submission's process tree; past it the tree is killed."""
    quick: bool = False
    fit_batches: int = 20
    """In quick mode: batches per capped fit (one epoch)."""
    eval_samples: int = 256
    """In quick mode: samples kept for validation, evaluate and predict."""
    keras_home: Path | None = None
    """Prepared folder whose datasets/ serves keras.datasets offline."""
    data_served: dict = field(default_factory=dict)
    provided_files: dict = field(default_factory=dict)
    """File name -> source path, copied into the submission's folder (exercise data)."""
    mode: str = "full"
    """full, quick or artifacts (training capped as in quick, uploaded model files graded)."""
    evaluation: object = field(default=None, compare=False, repr=False)
    """The `data.EvaluationSet` the grader's evaluation uses: images and labels held by the grader,
    never written into the submission's folder or its probe configuration."""
    evaluation_timeout: float = 300.0

    @contextmanager
    def workspace(self, submission: Path, export_dir: Path | None = None):
        """A fresh temporary folder holding a copy of the submission and the provided files.

        `export_dir`, when given, is where the probe saves the run's models at its end: a folder
        of the grader's, outside the one the submission runs in, that outlives the workspace."""
        folder = Path(tempfile.mkdtemp(prefix="cnngrader-run-"))
        private = Path(tempfile.mkdtemp(prefix="cnngrader-probe-"))
        try:
            copy = folder / submission.name
            shutil.copyfile(submission, copy)
            for name, source in self.provided_files.items():
                shutil.copyfile(source, folder / name)
            workspace = Workspace(folder, copy, private / "evidence.json", private / "probe.json")
            workspace.probe_config.write_text(json.dumps({
                "evidence_path": str(workspace.evidence_path), "quick": self.quick,
                "fit_batches": self.fit_batches, "eval_samples": self.eval_samples,
                "serve_mnist": "mnist" in self.data_served,
                "serve_cifar100": "cifar100" in self.data_served,
                "export_dir": str(export_dir) if export_dir is not None else None,
            }))
            yield workspace
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(private, ignore_errors=True)


@dataclass(frozen=True)
class Workspace:
    folder: Path
    submission: Path
    evidence_path: Path
    probe_config: Path


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
    env = {key: os.environ[key] for key in PASSED_ENVIRONMENT if key in os.environ}
    env.update({
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "CNNGRADER_OFFLINE": "1",
    })
    if options.keras_home is not None:
        env["KERAS_HOME"] = str(options.keras_home)
    env.setdefault("HOME", str(workspace.folder))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    return env
