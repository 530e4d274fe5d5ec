"""The report's method notes: how every number was computed, from the settings in use."""

from __future__ import annotations

from bench.store import RunDir
from reports.calibration import CONFIDENCE_DEFINITION, METRICS, MIN_RELIABLE_N
from reports.ece_code import RELEASED_EQUAL_MASS_BINS
from reports.stats import BootstrapSpec
from reports.tables import ALPHA

RUN_STORE_FILES = (RunDir.CONFIG, RunDir.ENV, RunDir.METRICS, RunDir.PREDICTIONS, RunDir.TRAIN_LOG)


def method_notes(spec: BootstrapSpec) -> list[str]:
    """One paragraph per method: data, intervals, tests, calibration, ece_code, verdicts."""
    metrics = ", ".join(label for label, _ in METRICS.values())
    return [
        f"Every number comes from the run store ({', '.join(RUN_STORE_FILES)}) or the paper "
        "files in reports/papers/.",
        "Predictions are those of each run's primary checkpoint (select=best: best on the "
        "validation split; the reference code selected on test).",
        f"Accuracy: mean over seeds ± std over seeds (ddof 1); {spec.describe()}. The "
        "interval covers another set of seeds and another test set of the same size: the "
        "variance of the mean is var_example / n + var_seed / S + var_interaction / (n S), "
        "estimated from the two-way (seed x example) mean squares, with a t quantile whose "
        "degrees of freedom grow from S - 1 with the share of the variance that is not the "
        "seeds' (coverage 94-96% at 3, 5 and 10 seeds in a simulation test, where a percentile "
        "bootstrap over seeds covered about 80% at 3).",
        "Paired comparisons use the test ids both arms have. Effect = accuracy(a) - accuracy(b) "
        "in points. When both arms ran the same seeds (the same seed gives both the same "
        "initial weights and batch order) the design is 'paired seeds' and the analysis runs on "
        "the per-seed, per-example differences; otherwise 'unpaired seeds', each arm's seed "
        "variance counted separately. The p-value is the two-sided t test of the same "
        f"statistic; Holm's correction runs over one family, every comparison of the table; a "
        f"claim of 'better' needs Holm p < {ALPHA}.",
        "Confidence: " + CONFIDENCE_DEFINITION + ".",
        f"Calibration metrics ({metrics}) are computed per seed and averaged over seeds; "
        "equal-width bin k holds [k/K, (k+1)/K) (torchmetrics' convention), equal-mass bins "
        "split the examples in confidence order; MCE is the largest gap over non-empty bins; "
        "Brier is the mean squared error of the top-label confidence. Intervals of these "
        "metrics and of paired ECE differences: a t-interval on the per-seed values (paired "
        "seeds when the arms share them) plus the test-set term all seeds share, estimated as "
        "the covariance of two seeds' values over an example bootstrap; Holm over every "
        "calibration comparison of the table. Fewer than "
        f"{MIN_RELIABLE_N} test examples are flagged.",
        "ece_code is the figure the MI authors' released uncertainty.py + calib_metrics.py "
        "(github.com/xinchen9/cot_distillation_ACL2024) would print. It is not an ECE: the "
        "script stores each example's whole first-step vocabulary distribution as its "
        "'confidence' and its first-step argmax as the 'prediction', so compute_ece treats "
        "every example as a separate run; inside each, zip() keeps only the probability of "
        f"token id 0 (<pad>) and the first gold token, and the {RELEASED_EQUAL_MASS_BINS}-bin "
        "equal-mass 'ECE' of that single pair is |[first token right] - p(<pad>)|. Averaged, "
        "this is first-token accuracy up to the pad probability. We show it estimated from "
        "the stored predictions with the run's tokenizer (p(<pad>) taken as 0); it needs the "
        f"run's {RunDir.TOKENIZER} and is blank without it.",
        "Verdicts: reproduced = our run matches the paper's setting (model, teacher, labels, "
        "data fractions, schedule, train/test sizes) and the paper value lies inside our "
        f"{spec.level:.0%} "
        "CI; not reproduced = same setting, outside the CI; not comparable = any setting "
        "differs (listed); missing = no run.",
    ]
