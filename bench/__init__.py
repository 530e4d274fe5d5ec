"""cotbench core: data, tokenizer/model factory, loss-strategy interface, trainer, evaluation,
run store, suites and the ``bench`` CLI."""

__version__ = "0.1.0"
