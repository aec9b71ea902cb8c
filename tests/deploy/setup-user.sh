#!/usr/bin/env bash
# Make an ordinary account that grades with its own Python, as an instructor would.
#
#   tests/deploy/setup-user.sh NAME COURSE venv       a venv inside its copy of the course
#   tests/deploy/setup-user.sh NAME COURSE user-site  pip install --user, no venv
#
# NAME gets a home with a copy of COURSE (without .git) in ~/course, Debian's
# /usr/bin/python3 (CI's pyenv Python lives under /root, which other users
# cannot read), torch 2.13.0 (CPU) and the course's dev extras, installed the
# way the layout says. Prints the python to run. A second run refreshes the
# course copy and keeps what is installed.
set -euo pipefail
name=$1
course=$(cd "$2" && pwd)
layout=${3:-venv}
python=/usr/bin/python3
id "$name" >/dev/null 2>&1 || useradd -m -s /bin/bash "$name"
home=$(getent passwd "$name" | cut -d: -f6)
as_user() { su "$name" -s /bin/bash -c "cd ~ && $1"; }
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  apt-get install -y -qq python3-venv >/dev/null
fi
mkdir -p "$home/course"
find "$home/course" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
tar -C "$course" --exclude=./.git --exclude=./.venv --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache --exclude=./reports -cf - . \
  | tar -C "$home/course" -xf -
chown -R "$name:" "$home/course"
case $layout in
  venv)
    [ -x "$home/course/.venv/bin/python" ] || as_user "$python -m venv ~/course/.venv"
    run=$home/course/.venv/bin/python
    pip_args=""
    ;;
  user-site)
    run=$python
    # Debian marks its Python as externally managed (PEP 668): --user needs the override.
    pip_args="--user --break-system-packages"
    ;;
  *) echo "unknown layout $layout" >&2; exit 2 ;;
esac
if ! as_user "$run -c 'import torch'" 2>/dev/null; then
  as_user "$run -m pip install -q $pip_args torch==2.13.0"
fi
as_user "cd ~/course && $run -m pip install -q $pip_args -e '.[dev]'"
echo "$run"
