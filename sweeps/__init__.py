"""Sweeps: ablations over one config key (``bench ablate``) and Optuna studies (``bench sweep``).

Import from the modules (this package imports nothing, so ``bench --help`` stays fast):
:mod:`sweeps.ablate` (``plan_ablation`` / ``run_ablation``: a grid over any config key);
:mod:`sweeps.spaces` (``load_space``: search spaces), :mod:`sweeps.spec` (``SweepSpec``),
:mod:`sweeps.study` (``run_sweep``) with :mod:`sweeps.workers`, :mod:`sweeps.storage`,
:mod:`sweeps.samplers` and :mod:`sweeps.liveness`, and :mod:`sweeps.finish` (``finish_sweep``:
the best trial re-evaluated on test). Every trial and every ablation point is an ordinary run in
the run store; the tables, figures and report sections come from :mod:`reports`.
:mod:`sweeps.cli` adds the subcommands (a ``cotbench.commands`` entry point).
"""
