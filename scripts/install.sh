#!/usr/bin/env bash
# Installs everything cnngrader needs on a Debian machine: the offline Fashion-MNIST package,
# Chromium for the report tests, and the project with its test extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# Chromium renders the HTML reports in the browser tests (driven by playwright, no download).
if [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q dataset-fashion-mnist chromium
fi
# The CPU build of TensorFlow first, so that pip does not fetch the larger GPU-capable wheel.
python3 -m pip install -q "tensorflow-cpu>=2.16" 2>&1 | grep -v "as the 'root' user" || true
# The test extras hold tf-keras (Keras 2 mode, the `keras2` extra); it names `tensorflow` as its
# requirement, so pip adds that wheel too (the same version, the same files as tensorflow-cpu).
python3 -m pip install -q -e ".[test]" 2>&1 | grep -v "as the 'root' user" || true
python3 -c "import grader, tensorflow, tf_keras" >/dev/null
