"""Reading an A/B test of click-through rates: each arm's rate, the difference with a 95%
interval, and a sequential test that stays valid however often it is read.

The unit is the user (the split randomises users, and one user's lists are not
independent), the metric clicks per shown item: a ratio of per-user sums. Its variance is
the delta method's (Deng, Knoblich and Lu, "Applying the delta method in metric
analytics", KDD 2018):

    r = sum(c_u) / sum(n_u),   Var(r) ~ m / (m - 1) * sum((c_u - r n_u)^2) / (sum n_u)^2

over the m users of the arm (c_u clicks, n_u items shown). The difference of two arms,
d = r_B - r_A, has variance V = Var(r_A) + Var(r_B).

A fixed-horizon interval d +- 1.96 sqrt(V) is valid once, at a size fixed in advance;
read every day and stopped when it excludes 0 it errs far more often than 5%. The
sequential test is the mixture sequential probability ratio test (mSPRT) with a normal
mixture N(0, tau^2) over the difference (Robbins 1970; Johari, Koomen, Pekelis and Walsh,
"Always valid inference: continuous monitoring of A/B tests", Operations Research
2022, written with V in place of 2 sigma^2 / n):

    Lambda = sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2)))

Lambda is a nonnegative martingale under d = 0, so by Ville's inequality it exceeds 1/alpha
at ANY read with chance at most alpha: the always-valid p-value is min(1, 1/Lambda), and the
test is decided at the first read where it falls below alpha. Inverting the test gives the
confidence sequence (covers the true difference at every read at once, with 1 - alpha):

    d +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))

V is estimated (plug-in), so validity is asymptotic in the number of users, as in the
paper. tau is the size of difference the test is tuned to detect soonest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from lmrec.errors import DataError

#: the mixture's scale: tuned to click-rate differences of about half a point
DEFAULT_TAU = 0.005


@dataclass(frozen=True)
class ArmRate:
    arm: str
    users: int
    impressions: int
    clicks: int
    rate: float
    std_error: float


@dataclass(frozen=True)
class Comparison:
    """Arm `arm` against the control arm."""

    arm: str
    control: str
    difference: float
    ci_low: float
    ci_high: float
    #: always-valid p-value of the mSPRT and its confidence sequence
    sequential_p: float
    cs_low: float
    cs_high: float
    #: "arm better", "control better" or "no decision yet"
    decision: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def ratio_rate(clicks: np.ndarray, shown: np.ndarray) -> tuple[float, float]:
    """Clicks per shown item over users, and its delta-method standard error."""
    m = len(shown)
    total = float(shown.sum())
    if m == 0 or total == 0:
        return 0.0, float("nan")
    rate = float(clicks.sum()) / total
    if m < 2:
        return rate, float("nan")
    resid = clicks - rate * shown
    var = m / (m - 1) * float(np.sum(resid**2)) / total**2
    return rate, var**0.5


def msprt(difference: float, variance: float, tau: float) -> float:
    """The normal-mixture likelihood ratio Lambda of a difference with variance V."""
    t2 = tau**2
    return float(
        np.sqrt(variance / (variance + t2))
        * np.exp(difference**2 * t2 / (2 * variance * (variance + t2)))
    )


def confidence_sequence_radius(variance: float, tau: float, alpha: float) -> float:
    t2 = tau**2
    return float(
        np.sqrt(
            variance
            * (variance + t2)
            / t2
            * (2 * np.log(1 / alpha) + np.log((variance + t2) / variance))
        )
    )


def per_user(frame: pd.DataFrame) -> pd.DataFrame:
    """(arm, user_id) -> items shown and items clicked, from served rows with `reward`."""
    rows = frame[frame["arm"].notna() & frame["user_id"].notna()]
    grouped = rows.groupby(["arm", "user_id"], sort=True)["reward"]
    return pd.DataFrame({"shown": grouped.size(), "clicks": grouped.sum()}).reset_index()


def arm_rates(users: pd.DataFrame) -> list[ArmRate]:
    out = []
    for arm, part in users.groupby("arm", sort=True):
        clicks = part["clicks"].to_numpy(float)
        shown = part["shown"].to_numpy(float)
        rate, se = ratio_rate(clicks, shown)
        out.append(ArmRate(str(arm), len(part), int(shown.sum()), int(clicks.sum()), rate, se))
    return out


def compare(
    rates: list[ArmRate],
    control: str | None = None,
    *,
    alpha: float = 0.05,
    tau: float = DEFAULT_TAU,
) -> list[Comparison]:
    """Every arm against the control (default: the first arm by name). With more than two
    arms alpha is split evenly among the comparisons (Bonferroni)."""
    by_name = {r.arm: r for r in rates}
    if len(by_name) < 2:
        raise DataError(
            f"an A/B report needs served rows of at least two arms; found {sorted(by_name)}: "
            "serve with LMREC_AB='modelA:0.5,modelB:0.5' and send clicks with the request_id"
        )
    base_name = control if control is not None else rates[0].arm
    if base_name not in by_name:
        raise DataError(f"control arm {base_name!r} has no served rows (arms: {sorted(by_name)})")
    base = by_name[base_name]
    level = alpha / (len(by_name) - 1)
    z = float(norm.ppf(1 - level / 2))
    out = []
    for arm in rates:
        if arm.arm == base_name:
            continue
        d = arm.rate - base.rate
        var = arm.std_error**2 + base.std_error**2
        if not np.isfinite(var) or var <= 0:
            nan = float("nan")
            out.append(
                Comparison(arm.arm, base_name, d, nan, nan, 1.0, nan, nan, "no decision yet")
            )
            continue
        half = z * var**0.5
        p = min(1.0, 1.0 / msprt(d, var, tau))
        radius = confidence_sequence_radius(var, tau, level)
        decision = "no decision yet"
        if p <= level:
            decision = "arm better" if d > 0 else "control better"
        out.append(
            Comparison(
                arm.arm, base_name, d, d - half, d + half, p, d - radius, d + radius, decision
            )
        )
    return out


def ab_report(
    frame: pd.DataFrame,
    control: str | None = None,
    *,
    alpha: float = 0.05,
    tau: float = DEFAULT_TAU,
) -> tuple[list[ArmRate], list[Comparison]]:
    """Rates per arm and comparisons with the control, from served rows (arm, user_id,
    reward): one row per shown item, reward 1 when it was clicked."""
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), not {alpha}")
    if tau <= 0:
        raise DataError(f"tau must be positive, not {tau}")
    rates = arm_rates(per_user(frame))
    return rates, compare(rates, control, alpha=alpha, tau=tau)
