"""The MI paper's method: the mutual-information loss variants and the ``dss+mi`` strategy.

Importing the package registers ``dss+mi`` (listed in the ``cotbench.strategies`` entry-point
group). The loss functions are pure and usable on their own; the pooled distributions and the
KL term they share with the KL baseline live in :mod:`bench.losses`.
"""

from method.mi import InfoNCEHead, mi_code_loss
from method.strategy import DSSWithMI

__all__ = [
    "DSSWithMI",
    "InfoNCEHead",
    "mi_code_loss",
]
