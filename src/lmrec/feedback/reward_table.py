"""The direct method's reward model: a click rate per (candidate, position) cell, shrunk
towards the position's rate; and DM and DR written as sums over logged rows, so that every
bootstrap resample refits the model (`estimators.refit_estimate`) and the intervals carry
its error.

Feature blocks per logged row i, over its positions k, each shown at cell c(i, k):
  shown     1 at each cell shown         clicked   the click at each cell shown
  weighted  w(i, k) at each cell shown   wr        sum_k w(i, k) r(i, k)
  one       1                            group     1 at the row's group g(i)
The target's expected prediction for a row depends only on its group (its position in a
single-action log, its user in a list log): target[g] @ rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmrec.feedback.estimators import Estimate, Statistic, bootstrap


def cell_matrix(cells: np.ndarray, values: np.ndarray, n_cells: int) -> sp.csr_matrix:
    """(n, n_cells): row i holds values[i, k] at column cells[i, k] (summed on repeats)."""
    n = cells.shape[0]
    rows = np.repeat(np.arange(n), cells.shape[1])
    return sp.csr_matrix(
        (values.ravel().astype(np.float64), (rows, cells.ravel())), shape=(n, n_cells)
    )


@dataclass(frozen=True)
class CellRewardModel:
    """`target[g, cell]`: the target policy's chance of each cell for a row of group g."""

    target: np.ndarray  # (groups, cells)
    n_positions: int
    prior: float

    @property
    def n_cells(self) -> int:
        return int(self.target.shape[1])

    def rates(self, shown: np.ndarray, clicked: np.ndarray) -> np.ndarray:
        """Click rate per cell (cell = candidate * positions + position), pulled towards
        the position's overall rate by `prior` pseudo-impressions."""
        k = self.n_positions
        s, c = shown.reshape(-1, k), clicked.reshape(-1, k)
        position_rate = c.sum(axis=0) / np.maximum(s.sum(axis=0), 1.0)
        return ((c + self.prior * position_rate) / (s + self.prior)).ravel()

    def features(
        self, cells: np.ndarray, clicks: np.ndarray, weights: np.ndarray, groups: np.ndarray
    ) -> sp.csr_matrix:
        """The blocks above from (n, K) cells, clicks and importance weights and (n,) groups."""
        n, c = cells.shape[0], self.n_cells
        one = np.ones((n, 1))
        return sp.hstack(
            [
                cell_matrix(cells, np.ones_like(clicks), c),
                cell_matrix(cells, clicks, c),
                cell_matrix(cells, weights, c),
                sp.csr_matrix((weights * clicks).sum(axis=1)[:, None]),
                sp.csr_matrix(one),
                cell_matrix(groups[:, None], one, self.target.shape[0]),
            ],
            format="csr",
        )

    def statistics(self, offset: int = 0) -> dict[str, Statistic]:
        """DM and DR from the sums of `features`, laid out from `offset`."""
        c = self.n_cells
        end = offset + 3 * c + 2 + self.target.shape[0]

        def parts(all_sums: np.ndarray) -> tuple[float, float, float, float]:
            """(sum of target predictions, sum of w q, sum of w r, rows)."""
            sums = all_sums[offset:end]
            q = self.rates(sums[:c], sums[c : 2 * c])
            predicted = float(sums[3 * c + 2 :] @ (self.target @ q))
            return predicted, float(sums[2 * c : 3 * c] @ q), sums[3 * c], sums[3 * c + 1]

        def dm(sums: np.ndarray) -> float:
            predicted, _, _, rows = parts(sums)
            return predicted / rows

        def dr(sums: np.ndarray) -> float:
            predicted, wq, wr, rows = parts(sums)
            return (predicted + wr - wq) / rows

        return {"dm": dm, "dr": dr}

    def estimates(
        self,
        cells: np.ndarray,
        clicks: np.ndarray,
        weights: np.ndarray,
        groups: np.ndarray,
        *,
        seed: int = 0,
    ) -> list[Estimate]:
        """DM and DR with their bootstrap intervals."""
        features = self.features(cells, clicks, weights, groups)
        return bootstrap(features, self.statistics(), seed=seed)
