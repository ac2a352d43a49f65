#!/usr/bin/env bash
# Gradescope image build (Ubuntu 22.04, Python 3.10): install only what grading needs.
# No TensorFlow: the Keras oracle ships as data in autograder/oracle/data.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SOURCE="${AUTOGRADER_ROOT:-/autograder}/source"
apt-get update
# util-linux gives unshare and setpriv (the sandbox's namespaces and its switch to nobody).
apt-get install -y --no-install-recommends python3 python3-pip util-linux
python3 -m pip install --no-cache-dir --disable-pip-version-check -r "$SOURCE/requirements.txt"
# Student code runs as the unprivileged user nobody (uid 65534, present in the base image).
id nobody
python3 -c "import numpy, click, yaml; print('grading dependencies installed, numpy', numpy.__version__)"
