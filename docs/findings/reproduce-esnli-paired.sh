#!/usr/bin/env bash
# The powered e-SNLI comparison of docs/findings.md: the pretrained offline MiniLM student
# (profile cpu-minilm), DSS and DSS+MI (the released MI term) with the same 10 seeds in both
# arms, scored on the whole e-SNLI test split (9,824 examples; `full_test=true`). One seed's
# pair trains at a time, two processes of one thread each: about 17 minutes a pair on 2 CPU
# cores. Finished runs are cache hits and an interrupted run resumes: rerun to continue.
# Needs the DSS data ($COTBENCH_DATA) and `pip install 'cotbench[minilm]'`.
# Usage: docs/findings/reproduce-esnli-paired.sh [RUNS_DIR] [SEEDS]
set -euo pipefail
runs="${1:-runs}"
seeds="${2:-0 1 2 3 4 5 6 7 8 9}"
export HF_HUB_OFFLINE=1
for seed in $seeds; do
  bench run --suite paper-table --profile cpu-minilm --datasets esnli --strategies dss,dss+mi \
    --seeds "$seed" --set full_test=true --jobs 2 --runs-dir "$runs"
done
