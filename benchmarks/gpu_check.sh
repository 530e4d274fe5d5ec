#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): bench perf at the paper profile's shape and a 50-step
# DSS+MI run of the paper profile, written to one JSON. Under ten minutes on one GPU.
#   bash benchmarks/gpu_check.sh [--out gpu_check.json] [--model google/t5-v1_1-base]
#   bash benchmarks/gpu_check.sh --dry --out /tmp/gpu_check.json   # CPU, tiny sizes (CI)
# Data: $COTBENCH_DATA (CQA); weights: the Hugging Face cache, else a random init;
# $PYTHON: the interpreter (default: python on the PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
