"""Documentation generated from code stays in step with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_diagnoses_table_is_generated_from_the_catalogue():
    generated = subprocess.run([sys.executable, "-m", "grader.diagnoses"], capture_output=True, text=True,
                               check=True).stdout
    committed = (REPO / "docs" / "diagnoses.md").read_text()
    assert committed == generated, "run: python -m grader.diagnoses > docs/diagnoses.md"


def test_readme_names_the_commands_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "python3 -m pytest" in readme and "python3 -m pytest" in ci
    assert "scripts/install.sh" in readme and "scripts/install.sh" in ci
