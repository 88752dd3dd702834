"""Runners: take a submission, run it in a process of its own, bring back evidence."""

from .module import run_module
from .notebook import read_notebook, run_notebook
from .options import RunOptions

__all__ = ["RunOptions", "read_notebook", "run_module", "run_notebook"]
