#!/usr/bin/env bash
# The main job on bundled data: install everything, show what a correct answer looks like, and
# grade the bundled example submissions of one exercise in quick (self-check) mode.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=2
exercise="${1:-fashion_cnn}"
cnngrader reference show "$exercise"
cnngrader grade "examples/submissions/$exercise" --exercise "$exercise" --quick --out graded
echo "Results: graded/<submission>/results.json"
