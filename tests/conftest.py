"""Shared fixtures. The data comes from where the grader itself looks ($CNNGRADER_DATA when set,
the Keras cache, Debian's Fashion-MNIST, the MNIST test set bundled in grader/datasets/mnist/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def batch_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("batch")


@pytest.fixture(scope="session")
def run_options_for(batch_dir):
    """RunOptions per exercise, prepared once per session like one grading batch."""
    from grader.exercises import load_spec
    from grader.grading import prepare_run

    prepared = {}

    def make(exercise_id: str, quick: bool = True, timeout: float | None = 120,
             memory_limit_bytes: int | None = 8 * 2**30, keras: int | None = None):
        key = (exercise_id, quick, timeout, memory_limit_bytes, keras)
        if key not in prepared:
            folder = batch_dir / f"{exercise_id}-{len(prepared)}"
            folder.mkdir()
            prepared[key] = prepare_run(load_spec(exercise_id), folder, quick, timeout, None, memory_limit_bytes,
                                        keras=keras)
        return prepared[key]

    return make
