#!/usr/bin/env bash
# The synth part of docs/findings.md, end to end (about 100 minutes on 2 CPU cores).
# Usage: docs/findings/reproduce-synth.sh [RUNS_DIR]   (finished runs are cache hits: rerun to resume)
set -euo pipefail
runs="${1:-runs}"
export HF_HUB_OFFLINE=1
jobs=(--jobs 2 --runs-dir "$runs")

# 1. every strategy, 3 seeds (dss+mi with the released code's MI term)
bench run --suite synth --profile cpu "${jobs[@]}"
# 2. the three MI terms: code (released), paper (as described), infonce (a learned bound)
bench ablate --suite synth --profile cpu --strategies dss+mi --vary mi_variant "${jobs[@]}"
# 3. the MI weight (the suite's 0.1 is always in the grid)
bench ablate --suite synth --profile cpu --strategies dss+mi --vary alpha3 --values 0,1.0 "${jobs[@]}"
# 4. rationale noise: a fraction of training rationales swapped with other examples'
bench ablate --suite synth --profile cpu --strategies dss,dss+mi --vary noise.level --values 0,0.5,1.0 \
  --set noise.type=swap "${jobs[@]}"
