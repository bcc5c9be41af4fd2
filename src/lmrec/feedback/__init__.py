"""Learning from feedback: off-policy estimators, the Open Bandit Dataset sample, a replay
simulator on rating data and online bandits.

Importing this package loads NumPy and SciPy only; the simulator and the data readers are
modules of their own (`lmrec.feedback.simulator`, `lmrec.feedback.obd`).
"""

from lmrec.feedback.estimators import (
    Estimate,
    direct_method,
    doubly_robust,
    independent_position_ips,
    ips,
    slate_ips,
    snips,
)

__all__ = [
    "Estimate",
    "direct_method",
    "doubly_robust",
    "independent_position_ips",
    "ips",
    "slate_ips",
    "snips",
]
