"""Valuing a served model's other epsilon settings from its logged lists."""

from __future__ import annotations

import pandas as pd
import pytest

from lmrec.errors import DataError
from lmrec.feedback.exploration import parse_policy
from lmrec.feedback.served_ope import evaluate_served


def _frame(rows: list[tuple[str, int, float, float]], policy: str = "epsilon:0.2") -> pd.DataFrame:
    """(request, rank, propensity, reward) rows of one policy."""
    return pd.DataFrame(
        [
            {"request_id": r, "item_id": f"x{i}", "rank": k, "policy": policy,
             "propensity": p, "reward": w}
            for i, (r, k, p, w) in enumerate(rows)
        ]
    )  # fmt: skip


# epsilon 0.2 over 4 candidates: the model's own item at its rank 0.8 + 0.05, another 0.05
LOG = _frame(
    [
        ("a", 1, 0.85, 1.0), ("a", 2, 0.85, 0.0),  # the model's own list
        ("b", 1, 0.05, 1.0), ("b", 2, 0.85, 1.0),  # explored at rank 1
    ]
)  # fmt: skip


def test_greedy_and_other_epsilons_by_hand() -> None:
    rows = {e.estimator: e for e in evaluate_served(LOG, parse_policy("greedy"))}
    assert rows["logged"].estimate == pytest.approx(3 / 2)
    # greedy: weight 1/0.85 on own items, 0 on the explored one
    assert rows["iips"].estimate == pytest.approx((1 / 0.85 + 1 / 0.85) / 2)
    half = {e.estimator: e for e in evaluate_served(LOG, parse_policy("epsilon:0.4"))}
    # epsilon 0.4 over the same 4: own 0.6 + 0.1, other 0.1
    w_own, w_other = 0.7 / 0.85, 0.1 / 0.05
    assert half["iips"].estimate == pytest.approx((w_own + w_other + w_own) / 2)


# thompson: estimated marginal chances, and whether each shown item is the model's own
THOMPSON = _frame(
    [("a", 1, 0.5, 1.0), ("a", 2, 0.25, 1.0), ("b", 1, 0.125, 1.0), ("b", 2, 0.5, 0.0)],
    "thompson:2",
).assign(own=[True, False, False, True])


def test_greedy_from_a_thompson_log_by_hand() -> None:
    rows = {e.estimator: e for e in evaluate_served(THOMPSON, parse_policy("greedy"))}
    assert rows["logged"].estimate == pytest.approx(3 / 2)
    # only own items count, weighted by their estimated chance: 1/0.5 clicked, b's unclicked
    assert rows["iips"].estimate == pytest.approx((1 / 0.5) / 2)
    assert rows["iips"].ci_low <= rows["iips"].estimate <= rows["iips"].ci_high


@pytest.mark.parametrize(
    ("frame", "target", "message"),
    [
        (LOG.iloc[:0], "greedy", "no served lists"),
        (LOG.assign(propensity=[0.85, None, 0.05, 0.85]), "greedy", "carry no propensity"),
        (pd.concat([LOG, _frame([("c", 1, 1.0, 0.0)], "greedy")]), "greedy", "mixes policies"),
        (LOG, "softmax:1", "needs the model's scores"),
        (_frame([("a", 1, 1.0, 1.0)], "greedy"), "epsilon:0.1", "cannot value epsilon:0.1"),
        (_frame([("a", 1, 0.2, 1.0)], "epsilon:0.8"), "greedy", "epsilon at most 0.5"),
        (THOMPSON, "epsilon:0.1", "value greedy only"),
        (THOMPSON.drop(columns="own"), "greedy", "needs the model's own lists"),
    ],
)
def test_what_cannot_be_valued_says_why(frame: pd.DataFrame, target: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        evaluate_served(frame, parse_policy(target))
