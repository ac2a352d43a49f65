#!/usr/bin/env bash
# Gradescope image build, for any current base image (Ubuntu 22.04 / 24.04, Debian 12 / 13):
# the kit's own virtual environment (no system pip, so PEP 668 does not apply), binary wheels
# only, every file pinned by its hash (requirements.txt). No TensorFlow: the Keras oracle ships
# as data in autograder/oracle/data.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SOURCE="${AUTOGRADER_ROOT:-/autograder}/source"
VENV="${CNN_KIT_VENV:-/opt/cnn-kit/venv}"
if command -v apt-get >/dev/null 2>&1; then
  apt-get update
  # util-linux gives unshare and setpriv (the sandbox's namespaces and its switch to nobody).
  apt-get install -y --no-install-recommends python3 python3-venv util-linux ca-certificates
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "setup.sh: python3 is not installed and apt-get is missing; choose an Ubuntu base image." >&2
  exit 1
fi
python3 - <<'PY'
import sys
if not (3, 10) <= sys.version_info[:2] <= (3, 14):
    sys.exit(
        f"setup.sh: this autograder needs Python 3.10 to 3.14 (its pinned wheels exist for "
        f"those); the base image has Python {sys.version.split()[0]}. "
        "Choose Ubuntu 22.04 or newer as the base image."
    )
PY
python3 -m venv "$VENV"
"$VENV/bin/python3" -m pip install --no-cache-dir --disable-pip-version-check --no-input \
  --only-binary=:all: --require-hashes -r "$SOURCE/requirements.txt"
chmod -R a+rX "$VENV"  # the sandbox runs student code as nobody with this interpreter
# Byte-compile the kit once, into the image: run_autograder writes no bytecode, so without this
# every submission would compile the engine and the solutions from source again (~0.2 CPU-s).
"$VENV/bin/python3" -m compileall -q "$SOURCE/autograder" "$SOURCE/solutions"
# Student code runs as the unprivileged user nobody (uid 65534, present in the base image).
id nobody
"$VENV/bin/python3" -c "import numpy, click, yaml; print('grading dependencies installed, numpy', numpy.__version__)"
