"""Reports: everything that reads finished runs, never trains them.

Import from the modules (this package imports nothing, so ``bench --help`` stays free of pandas
and matplotlib):

- :mod:`reports.collect` (``collect_runs``: a run store as frames), :mod:`reports.load`
  (``load_runs``: a store or a bundle, for notebooks), :mod:`reports.arms` (a condition's
  per-example results over its seeds, for ablations and sweeps);
- :mod:`reports.stats` (seed-aware intervals, paired tests, Holm), :mod:`reports.tables` (summary
  and paired tables), :mod:`reports.calibration` / :mod:`reports.calibration_tables` (ECE, MCE,
  Brier), :mod:`reports.paper` (paper numbers and verdicts), :mod:`reports.power` (seeds needed);
- :mod:`reports.display` (tables as text), :mod:`reports.export` (CSV, Markdown, LaTeX),
  :mod:`reports.figures`, :mod:`reports.sections` (the ``section.json`` files of ablations and
  sweeps), :mod:`reports.report` (``build_report``: the HTML report);
- :mod:`reports.bundle` and :mod:`reports.rerun` (``bench export``, ``refresh``, ``verify``);
  :mod:`reports.cli` (the subcommands, registered as a ``cotbench.commands`` entry point).
"""
