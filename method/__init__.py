"""The MI paper's method: the mutual-information loss variants and the ``dss+mi`` strategy.

Importing the package registers ``dss+mi`` (listed in the ``cotbench.strategies`` entry-point
group). The loss functions are pure and usable on their own.
"""

from method._mi import InfoNCEHead, kl_loss, mi_code_loss, mi_paper_loss, pooled_distribution
from method._strategy import DSSWithMI

__all__ = [
    "DSSWithMI",
    "InfoNCEHead",
    "kl_loss",
    "mi_code_loss",
    "mi_paper_loss",
    "pooled_distribution",
]
