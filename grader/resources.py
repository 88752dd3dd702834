"""Where the exercise specs, reference modules and templates live.

From a clone (or an editable install) they are the top-level folders beside `grader/`; in a
built wheel hatch copies them into `grader/_bundle/`.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType

_PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def resource_root() -> Path:
    """The folder holding `exercises/`, `reference/` and `templates/`."""
    for candidate in (_PACKAGE_DIR.parent, _PACKAGE_DIR / "_bundle"):
        if (candidate / "exercises").is_dir() and (candidate / "reference").is_dir():
            return candidate
    raise RuntimeError(
        f"cnngrader is installed without its exercise files: looked beside {_PACKAGE_DIR} "
        "and in grader/_bundle. Reinstall with `pip install .` from a clone."
    )


def exercises_dir() -> Path:
    return resource_root() / "exercises"


def reference_dir() -> Path:
    return resource_root() / "reference"


def expected_dir() -> Path:
    return reference_dir() / "expected"


def templates_dir() -> Path:
    return resource_root() / "templates"


def load_reference_module(exercise_id: str) -> ModuleType:
    """Import `reference/<exercise_id>.py` as `cnngrader_reference.<exercise_id>`."""
    package = _reference_package()
    name = f"{package.__name__}.{exercise_id}"
    if name in sys.modules:
        return sys.modules[name]
    path = reference_dir() / f"{exercise_id}.py"
    if not path.is_file():
        raise KeyError(f"no reference module for exercise {exercise_id!r} at {path}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _reference_package() -> ModuleType:
    name = "cnngrader_reference"
    if name not in sys.modules:
        init = reference_dir() / "__init__.py"
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(reference_dir())]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return sys.modules[name]
