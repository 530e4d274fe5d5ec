"""``bench perf``: cotbench's training step and evaluation against an in-repo reference design.

The reference (``_reference``) is the DSS/MI authors' Hugging Face Trainer design rebuilt here;
``_designs`` puts it and cotbench's own batching/loss behind one interface; ``_measure`` times,
counts FLOPs and peak memory; ``_eval`` compares generation with candidate scoring; ``_run``
runs everything side by side; ``_report`` renders the table and JSON; ``cli`` wires the command.
"""
