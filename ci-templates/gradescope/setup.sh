#!/usr/bin/env bash
# Build Gradescope's autograder image: runs once, as root, when the image is made.
#
# How to use: zip the course (its root: course.toml, grader/, checks/, ...)
# together with this file and run_autograder at the top level of the zip, and
# upload it as the assignment's autograder. Gradescope unpacks it to
# /autograder/source.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt-get update
# The course targets Python 3.11; images without it fall back to their python3 (>= 3.10).
if apt-cache show python3.11-venv >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends python3.11 python3.11-venv libseccomp2
    python=python3.11
else
    apt-get install -y --no-install-recommends python3 python3-venv libseccomp2
    python=python3
fi

# A venv of our own: the image's system Python stays untouched. libseccomp2 (above) is
# what the sandbox's seccomp filter is built with.
"$python" -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install /autograder/source
