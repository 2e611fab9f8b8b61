#!/usr/bin/env bash
# Build a separate virtual environment with the reference implementation
# (ctapipe 0.32) for the agreement and speed comparisons in this folder.
# ctapipe is never a dependency of iactx; this environment lives outside the
# project's own .venv.
#
# ctapipe 0.32 declares Python >= 3.12 because three lines of
# ctapipe/core/container.py use the PEP 695 generic syntax. On a Python 3.11
# machine we install it anyway and rewrite those three annotations into the
# equivalent typing.Generic form; nothing numerical is touched.
#
# usage: bash benchmarks/make_ctapipe_env.sh [ENV_DIR]   (default ../ctapipe-venv)
set -euo pipefail
env_dir=${1:-../ctapipe-venv}
python3 -m venv "$env_dir"
pip="$env_dir/bin/pip"
"$pip" install -q --only-binary=:all: "astropy<9,>=6.1" docutils joblib "numba>=0.59" \
    "numpy<3,>=1.26" packaging psutil pyyaml requests scikit-learn "scipy~=1.15" \
    "tables~=3.4" tqdm "traitlets~=5.6" eventio zstandard iminuit
"$pip" install -q --no-deps --ignore-requires-python "ctapipe==0.32.0"
site=$("$env_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
container="$site/ctapipe/core/container.py"
if "$env_dir/bin/python" -c 'import sys; sys.exit(sys.version_info >= (3, 12))'; then
    sed -i \
        -e 's/^class Field\[T\]:/T = TypeVar("T")\nT1 = TypeVar("T1")\nT2 = TypeVar("T2")\nK = TypeVar("K")\nV = TypeVar("V")\n\n\nclass Field(Generic[T]):/' \
        -e 's/def __init__\[T1, T2\](/def __init__(/' \
        -e 's/^class Map\[K, V\](defaultdict\[K, V\]):/class Map(defaultdict):/' \
        -e 's/^from typing import Any, Callable, Self, Type, overload/from typing import Any, Callable, Generic, Self, Type, TypeVar, overload/' \
        "$container"
fi
"$env_dir/bin/python" -c 'import ctapipe.io; print("ctapipe", ctapipe.__version__, "ready in", "'"$env_dir"'")'
