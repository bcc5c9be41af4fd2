"""How a model's privacy guarantee is described wherever its epsilon is shown (the
metadata of a privately trained model: lmrec.training.private)."""

from __future__ import annotations

import math
from typing import Any

#: the unit of privacy of lmrec's private training: all of one user's interactions
USER_LEVEL = "user"

#: the plain words stored and shown beside every epsilon
GUARANTEE = (
    "user-level (joint) differential privacy: the shared parameters (every parameter but "
    "a user's own vector) are (epsilon, delta)-DP with respect to all of one user's "
    "interactions; a user's own vector, where the model has one, is learned from their "
    "own data and serves only them. Not covered: the training interactions and user "
    "vectors the model files keep, the cold-start popularity list the service derives "
    "from them, and which item ids exist (the catalogue is taken as public)."
)


def spent_line(privacy: dict[str, Any] | None) -> str:
    """One line for people: the budget spent and its unit ("not private" without one)."""
    if not privacy:
        return "not private (epsilon infinite)"
    eps = privacy.get("epsilon")
    shown = "inf" if eps is None or not math.isfinite(float(eps)) else f"{float(eps):.2f}"
    return (
        f"epsilon {shown}, delta {float(privacy.get('delta', 0.0)):.2g} "
        f"({privacy.get('accountant', '?')} accountant; unit of privacy: one "
        f"{privacy.get('unit', '?')}, at most {privacy.get('per_user', '?')} of their "
        "interactions per step)"
    )
