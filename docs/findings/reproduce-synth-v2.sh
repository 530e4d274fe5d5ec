#!/usr/bin/env bash
# The synth version-2 part of docs/findings.md: the default cell of `bench run --suite synth`
# (every strategy; single-task on swapped rationales, the negative control; the three MI terms)
# and the calibration grid `synth-grid`. Seeds run two at a time, every arm of a seed pair
# before the next pair, so that a stopped session leaves whole pairs. Finished runs are cache
# hits and an interrupted run resumes: rerun to continue. To continue from a committed bundle
# in a fresh store: python -c "from pathlib import Path; from reports.bundle import unpack_runs;
# unpack_runs(Path('results/synth-v2'), Path('RUNS_DIR'))" (likewise results/synth-grid;
# the store may exist, the bundle's run directories must not).
# Usage: docs/findings/reproduce-synth-v2.sh [RUNS_DIR] [SEED_PAIRS] [GRID_SEEDS]
set -euo pipefail
runs="${1:-runs}"
pairs="${2:-0,1 2,3 4,5 6,7 8,9}"
grid_seeds="${3:-0,1}"
export HF_HUB_OFFLINE=1
jobs=(--jobs 2 --runs-dir "$runs")
for seeds in $pairs; do
  bench run --suite synth --seeds "$seeds" "${jobs[@]}"
  bench run --suite synth --strategies single-task --set noise.type=swap --set noise.level=1.0 \
    --seeds "$seeds" "${jobs[@]}"
  bench ablate --suite synth --strategies dss+mi --vary mi_variant --seeds "$seeds" "${jobs[@]}"
done
# the late take-off check: DSS with a later floor and a longer cap, seeds 0 and 1
late=(early_stopping_min_steps=8000 max_steps=12000)
bench run --suite synth --strategies dss "${late[@]/#/--set=}" --seeds 0,1 "${jobs[@]}"
bench run --suite synth-grid --seeds "$grid_seeds" "${jobs[@]}"
# the bundles: every strategy, MI term and the swap control against DSS and fine-tuning, paired
swap='single-task[noise.type=swap,noise.level=1.0]'
pairs=(single-task:finetune dss+mi:finetune dss+kl:finetune dss+kl:dss single-task:dss
  "dss+mi[mi_variant=paper]:dss" "dss+mi[mi_variant=infonce]:dss"
  "dss+mi[mi_variant=paper]:finetune" "dss+mi[mi_variant=infonce]:finetune"
  "$swap:finetune" "single-task:$swap" "dss[early_stopping_min_steps=8000,max_steps=12000]:dss")
bench export --suite synth --profile cpu-v2 --runs-dir "$runs" --predictions selected --probability-digits 4 --force \
  "${pairs[@]/#/--pair=}" --out results/synth-v2
bench export --suite synth-grid --profile cpu --runs-dir "$runs" --predictions selected --probability-digits 4 --force \
  --out results/synth-grid
