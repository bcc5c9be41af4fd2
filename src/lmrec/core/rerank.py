"""Re-ranking the top-N candidates for diversity or calibration, after ranking.

A re-ranker takes each user's top `pool` items by score (chosen by core.ranking with every
exclusion and filter already applied) and picks k of them greedily:

- `mmr` (maximal marginal relevance, Carbonell & Goldstein 1998): the next item maximises
  lam * rel(i) - (1 - lam) * max_{j chosen} cos(v_i, v_j); rel is the score rescaled to
  [0, 1] over the pool, v the item vectors. lam = 1 keeps the ranking; lower lam trades
  relevance for items unlike those already chosen.
- `calibrated` (Steck, RecSys 2018): the next item maximises
  (1 - lam) * sum_{i in S} rel(i) - lam * KL(p || q~(S)), p the user's category (genre)
  distribution from their history, q(S) that of the list, q~ = (1 - a) q + a p with
  a = 0.01. lam = 0 keeps the ranking; higher lam makes the list's genre mix follow the
  user's.

Both are plain functions over arrays, shared by `recommend`, evaluation (compare's
labelled variants) and the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmrec.errors import ConfigError

METHODS = ("mmr", "calibrated")
#: candidates re-ranked per user by default
DEFAULT_POOL = 100
#: the spec as the service documents and accepts it: METHOD or METHOD:LAMBDA, LAMBDA a
#: decimal in [0, 1] (the command line's parse is more forgiving: case, spaces)
SPEC_PATTERN = r"^(mmr|calibrated)(:(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+))?$"
#: Steck's smoothing of the list's distribution toward the user's (keeps KL finite)
CALIBRATION_ALPHA = 0.01


@dataclass(frozen=True)
class RerankSpec:
    """What a user asks for: `mmr:0.5`, `calibrated:0.3` (method and lambda)."""

    method: str
    lam: float
    pool: int = DEFAULT_POOL

    @classmethod
    def parse(cls, text: str, pool: int = DEFAULT_POOL) -> RerankSpec:
        method, _, value = text.strip().partition(":")
        method = method.strip().lower()
        if method not in METHODS:
            raise ConfigError(
                f"unknown re-ranker {text!r}: use mmr:LAMBDA or calibrated:LAMBDA "
                "(LAMBDA between 0 and 1)"
            )
        try:
            lam = float(value) if value else 0.5
        except ValueError:
            raise ConfigError(f"re-ranker {text!r}: LAMBDA must be a number in [0, 1]") from None
        return cls(method, lam, pool).checked()

    def checked(self) -> RerankSpec:
        if not 0.0 <= self.lam <= 1.0:
            raise ConfigError(
                f"re-ranker {self.method}: lambda must lie in [0, 1] (got {self.lam})"
            )
        if self.pool < 1:
            raise ConfigError(f"re-ranker {self.method}: the pool must hold at least 1 item")
        return self

    @property
    def label(self) -> str:
        return f"{self.method}:{self.lam:g}"


@dataclass(frozen=True)
class Reranker:
    """A spec with the item data it needs: unit item vectors (mmr) or item category
    distributions (calibrated, rows summing to 1 or 0)."""

    spec: RerankSpec
    vectors: np.ndarray | None = None
    categories: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.spec.method == "mmr" and self.vectors is None:
            raise ConfigError("the mmr re-ranker needs item vectors (item text embeddings)")
        if self.spec.method == "calibrated" and self.categories is None:
            raise ConfigError(
                "the calibrated re-ranker needs item categories (a genres column in the items)"
            )

    @property
    def pool(self) -> int:
        return self.spec.pool

    def apply(
        self,
        items: np.ndarray,
        scores: np.ndarray,
        k: int,
        histories: sp.csr_matrix | None = None,
    ) -> np.ndarray:
        """(n, <=k) re-ranked item indices from (n, pool) candidates best first (-1 for
        gaps). `histories` (n, n_items) rows are the users' histories (calibrated)."""
        out = np.full((items.shape[0], k), -1, dtype=np.int64)
        user_dist = None
        if self.spec.method == "calibrated":
            assert self.categories is not None
            if histories is None:
                raise ConfigError("the calibrated re-ranker needs the users' histories")
            user_dist = _row_distributions(sp.csr_matrix(histories) @ self.categories)
        for row in range(items.shape[0]):
            valid = items[row] >= 0
            cand, rel = items[row][valid], _rescale(scores[row][valid])
            if self.spec.method == "mmr":
                assert self.vectors is not None
                chosen = mmr(cand, rel, self.vectors, k, self.spec.lam)
            else:
                assert self.categories is not None and user_dist is not None
                chosen = calibrate(cand, rel, self.categories, user_dist[row], k, self.spec.lam)
            out[row, : len(chosen)] = chosen
        return out


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def category_matrix(values: Sequence[object], sep: str = "|") -> tuple[np.ndarray, list[str]]:
    """(n_items, n_categories) p(category | item): each item's categories (e.g. genres
    'Action|Comedy') weighted equally; an item without any gets a zero row."""
    parsed = [
        [part.strip() for part in str(v).split(sep) if part.strip()]
        if v is not None and v == v  # NaN is not equal to itself
        else []
        for v in values
    ]
    names = sorted({c for cats in parsed for c in cats})
    column = {name: j for j, name in enumerate(names)}
    out = np.zeros((len(parsed), len(names)), dtype=np.float64)
    for i, cats in enumerate(parsed):
        for c in cats:
            out[i, column[c]] = 1.0 / len(cats)
    return out, names


def mmr(cand: np.ndarray, rel: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> np.ndarray:
    """Greedy maximal marginal relevance over the candidates (vectors: unit rows)."""
    n = len(cand)
    if n == 0:
        return cand
    v = vectors[cand]
    sims = v @ v.T
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)
    free = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        value = lam * rel - (1.0 - lam) * penalty
        value[~free] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        free[best] = False
        max_sim = np.maximum(max_sim, sims[:, best])
    return cand[chosen]


def calibrate(
    cand: np.ndarray,
    rel: np.ndarray,
    categories: np.ndarray,
    target: np.ndarray,
    k: int,
    lam: float,
) -> np.ndarray:
    """Greedy calibrated list (Steck 2018) toward the user's category distribution."""
    n = len(cand)
    if n == 0:
        return cand
    cats = categories[cand]  # (n, G)
    support = target > 0
    chosen: list[int] = []
    total = np.zeros(categories.shape[1])
    relevance = 0.0
    free = np.ones(n, dtype=bool)
    for step in range(min(k, n)):
        q = (total[None, :] + cats) / (step + 1)  # the list's distribution with each candidate
        q_tilde = (1 - CALIBRATION_ALPHA) * q + CALIBRATION_ALPHA * target[None, :]
        kl = (target[support] * np.log(target[support] / q_tilde[:, support])).sum(axis=1)
        value = (1 - lam) * (relevance + rel) - lam * kl
        value[~free] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        free[best] = False
        total += cats[best]
        relevance += rel[best]
    return cand[chosen]


def miscalibration(
    lists: np.ndarray, categories: np.ndarray, histories: sp.csr_matrix
) -> np.ndarray:
    """(n,) KL(p || q~) of each list's category mix from its user's (Steck's C_KL)."""
    target = _row_distributions(sp.csr_matrix(histories) @ categories)
    present = lists >= 0
    q = (categories[np.where(present, lists, 0)] * present[..., None]).sum(axis=1)
    q = q / np.maximum(present.sum(axis=1, keepdims=True), 1)
    q_tilde = (1 - CALIBRATION_ALPHA) * q + CALIBRATION_ALPHA * target
    ratio = np.divide(target, q_tilde, out=np.ones_like(target), where=target > 0)
    return (target * np.log(ratio)).sum(axis=1)


def _row_distributions(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def _rescale(scores: np.ndarray) -> np.ndarray:
    """Scores to [0, 1] over the pool (so lambda means the same for every model)."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) == 0 or s.max() <= s.min():
        return np.ones_like(s)
    low, high = s.min(), s.max()
    return (s - low) / (high - low)
