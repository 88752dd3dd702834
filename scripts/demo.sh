#!/usr/bin/env bash
# The main job on bundled data: install everything, show what a correct answer looks like, grade
# the bundled quick-mode example submissions of one exercise (the student's self-check), then,
# for fashion_cnn, the clean --artifacts example: a notebook with the trained model it saved.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=2
exercise="${1:-fashion_cnn}"
examples="examples/submissions/$exercise"
cnngrader reference show "$exercise"
# The files directly in the exercise's folder are the quick-mode examples (full/ and artifacts/
# hold the examples of the other modes).
# Two graders at once, one per core (each submission still runs in a kernel of its own).
find "$examples" -maxdepth 1 -mindepth 1 -name '*--*' -print0 | sort -z |
  xargs -0 -n 8 -P 2 cnngrader grade --exercise "$exercise" --quick --out graded
if [ -d "$examples/artifacts/clean--passed--trained_model" ]; then
  cnngrader grade "$examples/artifacts/clean--passed--trained_model" --exercise "$exercise" --artifacts --out graded
fi
echo "Results: graded/<submission>/results.json"
