#!/usr/bin/env bash
# ctapipe's ML chain on an iactx-written file: a small training production
# (one run of the stereo sample, its shower repeated), processed by iactx into
# ctapipe's format with the stereo geometry, then given to
# ctapipe-train-energy-regressor with ctapipe's own example configuration.
# The showers are copies of one, so the regressor's score means nothing; the
# check is that ctapipe's tool reads every column it needs and writes a model.
#
# usage: bash benchmarks/check_ctapipe_training.sh [CTAPIPE_ENV] [WORK_DIR]
#        (defaults ../ctapipe-venv, a temporary folder; needs IACTX_DATA_PATH)
set -euo pipefail
env_dir=$(realpath "${1:-../ctapipe-venv}")
work=${2:-$(mktemp -d)}
iactx_bin=$(dirname "$(command -v python)")
[ -x .venv/bin/iactx ] && iactx_bin=$(realpath .venv/bin)
mkdir -p "$work" && cd "$work"
"$iactx_bin/python" -c "import iactx.datasets as d; d.make_runs('runs', 1, repeats=80)"
"$iactx_bin/iactx" process --input runs/run_000001.simtel.zst --output train.dl1.h5 --output-format ctapipe \
    --reconstruct --DataWriter.write_dl2=True --no-progress --overwrite
site=$("$env_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
sed -e 's/n_jobs: -1/n_jobs: 1/' "$site/ctapipe/resources/train_energy_regressor.yaml" > train.yaml
"$env_dir/bin/ctapipe-train-energy-regressor" --input train.dl1.h5 --config train.yaml \
    --output energy_regressor.pkl --overwrite --log-level INFO
ls -l "$work/energy_regressor.pkl"
