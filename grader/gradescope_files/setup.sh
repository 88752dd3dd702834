#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (with internet).
# It installs Python (3.11 or newer: the grader reads its specs with tomllib), the CPU build of
# TensorFlow, the cnngrader wheel bundled beside this script and, for the Fashion-MNIST
# exercises, the dataset: Debian's package where this image's sources have it, else one download
# through Keras now, so that grading never needs the network. An exercise graded in Keras 2 mode
# gets the wheel's `keras2` extra (tf-keras), as cnngrader-autograder.json's "extras" say.
# Written by `cnngrader gradescope build`; see README.md beside it.
set -euo pipefail

# The wheel beside this script with the extras the config asks for: `cnngrader-….whl[keras2]`.
wheel_requirement() {
  local source="$1" python="$2"
  "$python" - "$source" <<'PY'
import json, pathlib, sys
source = pathlib.Path(sys.argv[1])
(wheel,) = source.glob("cnngrader-*.whl")
extras = json.loads((source / "cnngrader-autograder.json").read_text()).get("extras", [])
print(f"{wheel}[{','.join(extras)}]" if extras else wheel)
PY
}
# Sourced (tests read wheel_requirement): define, do not install.
[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SOURCE")"
VENV="$ROOT/cnngrader-venv"
DATA="$ROOT/cnngrader-data"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

apt-get update -q
apt-get install -y -q python3 python3-pip python3-venv
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  apt-get install -y -q python3.11 python3.11-venv
  PYTHON=python3.11
fi
apt-get install -y -q dataset-fashion-mnist \
  || echo "cnngrader setup: no dataset-fashion-mnist package here; Fashion-MNIST is downloaded below"

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The CPU build of TensorFlow first, so that pip does not fetch the larger GPU-capable wheel.
"$VENV/bin/python" -m pip install -q "tensorflow-cpu>=2.16"
"$VENV/bin/python" -m pip install -q "$(wheel_requirement "$SOURCE" "$VENV/bin/python")"

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  mkdir -p "$DATA"
  KERAS_HOME="$DATA" "$VENV/bin/python" -c \
    "from tensorflow import keras; keras.datasets.fashion_mnist.load_data()"
fi
# Fail the image build here, where the instructor sees it, rather than on every submission.
"$VENV/bin/python" -c "import grader, grader.grading, tensorflow; print('cnngrader', grader.__version__, 'tensorflow', tensorflow.__version__)"
if grep -q '"keras": 2' "$SOURCE/cnngrader-autograder.json"; then
  "$VENV/bin/python" -c "import tf_keras; print('tf-keras', tf_keras.__version__, '(Keras 2 mode)')"
fi
