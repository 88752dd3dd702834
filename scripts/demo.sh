#!/usr/bin/env bash
# The main job on bundled data: install everything, show what a correct answer looks like, then
# grade a small class of fashion_cnn's bundled examples as an instructor would with --artifacts
# (each student hands in the notebook and the model file it saved): the trained model, an
# uploaded file of another architecture, and notebooks with the usual mistakes and no model
# file. It writes each submission's results.json and report.html, the class summary
# (index.html), grades.csv and junit.xml, and prints the summary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=2
examples="examples/submissions/fashion_cnn"
out="${1:-graded/demo}"
cnngrader reference show fashion_cnn
rm -rf "$out"
cnngrader grade --exercise fashion_cnn --artifacts --out "$out" \
  "$examples/artifacts/clean--passed--trained_model" \
  "$examples/artifacts/artifact_mismatch--passed--uploaded_dense_model" \
  "$examples/layer_extra+param_mismatch--failed--extra_dense_64.ipynb" \
  "$examples/layer_missing--failed--no_dropout.ipynb" \
  "$examples/missing_callback--passed--no_early_stopping.ipynb" \
  "$examples/name_error--passed--plt_not_imported.ipynb" \
  "$examples/syntax_error--passed--unclosed_bracket.ipynb" \
  "$examples/invalid_notebook--error--not_json.ipynb"
echo "Open the class summary: $(cd "$out" && pwd)/index.html"
