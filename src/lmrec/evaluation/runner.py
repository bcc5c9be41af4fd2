"""Full-ranking evaluation of a fitted model on held-out interactions.

Every user with at least one test item gets a ranked list over the whole catalogue (or a
given candidate set) with the items in `exclude` removed; the list is compared with the
user's test items. Users are processed in chunks so that memory stays bounded whatever
the size of the catalogue.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.core.ranking import DEFAULT_TIE_SEED, mask_rows, tie_priority, top_k
from lmrec.core.rerank import Reranker
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError, DataError, UnsupportedError
from lmrec.evaluation import beyond as B
from lmrec.evaluation import metrics as M
from lmrec.evaluation.stats import PairedTest, bootstrap_means, paired_test
from lmrec.models.base import Recommender
from lmrec.models.capabilities import FoldsIn, PredictsClicks, PredictsRatings, ScoresSequences

#: scores per chunk when the batch size is automatic. Measured: top-k over chunks of about
#: 4M float32 scores runs 2-3x faster than over 100M+ (fresh large arrays cost page faults
#: on every chunk; chunks this size reuse memory that stays in the allocator and cache).
_TARGET_SCORES_PER_CHUNK = 1 << 22
#: working bytes per score: the float32 score, top_k's int64 partition order, a float32
#: copy when some scores are NaN, and slack for the model's own temporaries
_BYTES_PER_SCORE = 20

#: rated test items at or above this value are clicks for the click metrics
CLICK_THRESHOLD = 4.0
#: users per call to a click model's candidate lists and probabilities
_CLICK_USERS_PER_CHUNK = 256

# RecBole's metric names (and common spellings) -> ours, so configs carry over.
_ALIASES = {
    "itemcoverage": "coverage",
    "averagepopularity": "popularity",
    "hr": "hit",
    "hitrate": "hit",
    "hit_rate": "hit",
}

Exclusion: TypeAlias = Sequence[Dataset] | Dataset | sp.spmatrix | sp.sparray | None


@dataclass
class EvaluationResult:
    """Metric values per user (indexed by the user's own id) plus catalogue-wide ones."""

    per_user: pd.DataFrame  # one column per metric key, e.g. 'ndcg@10'
    catalogue: dict[str, float]  # coverage@k, rmse, mae: one number for all users
    n_relevant: pd.Series  # number of test items per evaluated user
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.per_user)

    def summary(self) -> dict[str, float]:
        """Mean over users of every per-user metric, plus the catalogue-wide metrics."""
        out = {key: float(col.mean()) for key, col in self.per_user.items()}
        out.update(self.catalogue)
        return out

    def with_ci(self, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
        """Mean and percentile bootstrap interval (over users) per metric.

        All per-user metrics share the same resampled users. Catalogue-wide metrics are
        listed with NaN bounds: they are not means over users.
        """
        rows = {}
        values = self.per_user.to_numpy(dtype=np.float64)
        if len(values):
            # NaN (a user with an empty list) would poison a resample; use the mean instead
            col_means = np.nanmean(values, axis=0) if values.size else np.zeros(0)
            filled = np.where(np.isnan(values), col_means, values)
            means = bootstrap_means(filled, n_boot=n_boot, seed=seed)
            low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2], axis=0)
            for j, key in enumerate(self.per_user.columns):
                rows[key] = (float(col_means[j]), float(low[j]), float(high[j]))
        for key, value in self.catalogue.items():
            rows[key] = (value, np.nan, np.nan)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "ci_low", "ci_high"])
        frame.index.name = "metric"
        return frame

    def compare(self, other: EvaluationResult, metric: str, **kwargs: Any) -> PairedTest:
        """Paired tests of `other` against this result on one per-user metric."""
        for res in (self, other):
            if metric not in res.per_user:
                raise ConfigError(
                    f"metric '{metric}' is not in the results "
                    f"(have: {', '.join(map(str, res.per_user.columns))})"
                )
        return paired_test(self.per_user[metric], other.per_user[metric], **kwargs)


def evaluate(
    model: Recommender[Any],
    test: Dataset,
    *,
    exclude: Exclusion,
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] | None = None,
    batch_size: int | None = None,
    history: Dataset | sp.spmatrix | sp.sparray | None = None,
    candidates: Sequence[Any] | np.ndarray | None = None,
    memory_mb: int = 512,
    tie_seed: int = DEFAULT_TIE_SEED,
    item_vectors: np.ndarray | None = None,
    rerank: Reranker | None = None,
    click_threshold: float = CLICK_THRESHOLD,
) -> EvaluationResult:
    """Rank the catalogue for every test user and score the lists against the test items.

    exclude: interactions that may not be recommended (the training data, plus the
        validation data when testing): Datasets on the same catalogue or a user x item
        matrix; None excludes nothing.
    ks: list lengths to report. metrics: names (ours or RecBole's, e.g. 'ndcg', 'NDCG',
        'ItemCoverage'); a name with a cut-off such as 'ndcg@20' also adds 20 to ks.
        None computes every ranking, list and coverage metric, and RMSE/MAE when the
        model predicts ratings and the test data holds ratings.
    history: histories to feed a fold-in model instead of its training users (e.g. train
        plus validation for sequence models); models without fold-in score by user.
    candidates: rank only among these items: the user's own item ids, or a NumPy integer
        array of internal item indices. Test items outside the set are not counted.
    batch_size: users per chunk; by default chosen from the catalogue size and memory_mb.
    tie_seed: equal scores are ordered by a random order of the items per user drawn
        from this seed (the same for every model evaluated with it), never by item index.
    item_vectors: (n_items, d) item text embeddings for `diversity` (intra-list diversity);
        without them diversity is left out (an error if it was asked for by name).
    rerank: re-rank each user's top `rerank.pool` items to the lists that are scored
        (histories for calibration: the excluded interactions, else the history rows).
    click_threshold: for the click metrics (auc, logloss, ece) of a click model, a rated
        test item is a click when its value is at least this; lower ratings and the
        model's candidates the user did not touch are non-clicks (implicit data: every
        test item is a click).
    """
    started = time.perf_counter()
    model._require_fitted()
    names, ks = _resolve_metrics(metrics, ks)
    if "diversity" in names and item_vectors is None:
        if metrics is not None:
            raise ConfigError(
                "diversity needs item text embeddings (item_vectors=...; `lmrec compare` "
                "computes them when the items have text and the text extra is installed)"
            )
        names.remove("diversity")
    n_items = model.n_items
    _check_catalogue(model, test)
    allowed = _candidate_columns(model, candidates)
    relevant = _relevant_matrix(test, allowed, n_items)
    counts = np.diff(relevant.indptr)
    users = np.flatnonzero(counts > 0)
    if len(users) == 0:
        where = " among the candidates" if allowed is not None else ""
        raise DataError(f"test data '{test.name}' has no interactions{where} to evaluate")
    excluded = _exclusion_matrix(exclude, test, n_items)
    hist_rows, scored_by = _history_source(model, test, history)
    if batch_size is None:
        batch_size = auto_batch_size(n_items, memory_mb)
    elif batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1 (got {batch_size})")

    # popularity and novelty are measured against the data the model was trained on
    trained_on = model.history_
    assert trained_on is not None
    popularity = np.bincount(trained_on.indices, minlength=n_items)
    n_pop_users = int(np.count_nonzero(np.diff(trained_on.indptr)))
    ranking = [m for m in names if m in M.RANKING_METRICS]
    listing = [m for m in names if m in M.LIST_METRICS]
    beyond = [m for m in names if m in B.BEYOND_LIST_METRICS]
    tail = B.long_tail_mask(popularity) if "longtail" in beyond else None
    kept_lists: list[np.ndarray] = []  # every top-k list, for Gini of exposure
    covered = {k: np.zeros(n_items, dtype=bool) for k in ks} if "coverage" in names else {}
    parts: dict[str, list[np.ndarray]] = {}
    max_k = max(ks)
    for start in range(0, len(users), batch_size):
        chunk = users[start : start + batch_size]
        rec = _ranked_lists(
            model, chunk, hist_rows, excluded, allowed, max_k, tie_seed, rerank=rerank
        )
        hits = _hit_matrix(rec, relevant[chunk])
        values = M.ranking_metrics(hits, counts[chunk], ks, ranking) if ranking else {}
        if listing:
            values.update(M.list_metrics(rec, popularity, n_pop_users, ks, listing))
        if beyond:
            seen = excluded[chunk] if excluded is not None else sp.csr_matrix((len(chunk), n_items))
            expected = (
                B.popular_unseen(popularity, seen, max_k) if "serendipity" in beyond else None
            )
            values.update(
                B.beyond_list_metrics(
                    rec, hits, ks, beyond, tail=tail, expected=expected, item_vectors=item_vectors
                )
            )
        if "gini" in names:
            kept_lists.append(M.pad_columns(rec, max_k, -1))
        for key, arr in values.items():
            parts.setdefault(key, []).append(arr)
        for k, seen in covered.items():
            top = rec[:, :k]
            seen[top[top >= 0]] = True

    user_ids = pd.Index(test.user_map.to_ids(users), name="user_id")
    per_user = pd.DataFrame(
        {key: np.concatenate(arrs) for key, arrs in parts.items()}, index=user_ids
    )
    per_user = per_user[_column_order(names, ks, per_user.columns)]
    catalogue = {M.metric_key("coverage", k): float(seen.mean()) for k, seen in covered.items()}
    catalogue_ci: dict[str, list[float]] = {}
    if "gini" in names:
        gini, catalogue_ci = B.exposure_gini(np.concatenate(kept_lists), n_items, ks)
        catalogue.update(gini)
    catalogue.update(_rating_metrics(model, test, names, explicit_request=metrics is not None))
    catalogue.update(
        _click_metrics(
            model,
            test,
            excluded,
            users,
            names,
            explicit_request=metrics is not None,
            threshold=click_threshold,
        )
    )
    meta = {
        "model": model.name,
        "ks": ks,
        "n_users": len(users),
        "n_items_ranked": n_items if allowed is None else len(allowed),
        "scored_by": scored_by,
        # test items the user already has in `exclude`: they count as relevant (as in
        # RecBole) but can never be recommended
        "n_test_items_excluded": 0 if excluded is None else int(relevant.multiply(excluded).nnz),
        "tie_seed": tie_seed,
        "catalogue_ci": catalogue_ci,
        "batch_size": batch_size,
        "seconds": time.perf_counter() - started,
    }
    return EvaluationResult(per_user, catalogue, pd.Series(counts[users], index=user_ids), meta)


def auto_batch_size(n_items: int, memory_mb: int = 512) -> int:
    """Users per chunk: about 4M scores, fewer if `memory_mb` of working memory is less."""
    by_speed = _TARGET_SCORES_PER_CHUNK // max(n_items, 1)
    by_memory = (memory_mb << 20) // (_BYTES_PER_SCORE * max(n_items, 1))
    return max(1, min(by_speed, by_memory))


# ---- one chunk -----------------------------------------------------------------------------
def _ranked_lists(
    model: Recommender[Any],
    users: np.ndarray,
    hist_rows: sp.csr_matrix | list[np.ndarray] | None,
    excluded: sp.csr_matrix | None,
    allowed: np.ndarray | None,
    k: int,
    tie_seed: int,
    rerank: Reranker | None = None,
) -> np.ndarray:
    """(len(users), <=k) item indices best first; -1 where fewer items could be ranked.
    With `rerank`, the top `rerank.pool` items are chosen first and re-ranked to k."""
    if hist_rows is None:
        scores = model.score_users(users)
    elif isinstance(hist_rows, list):  # time-ordered sequences (sequence models)
        assert isinstance(model, ScoresSequences)
        scores = model.score_sequences([hist_rows[u] for u in users])
    else:
        assert isinstance(model, FoldsIn)
        scores = model.score_histories(hist_rows[users])
    scores = np.asarray(scores, dtype=np.float32)
    if not scores.flags.writeable:
        scores = scores.copy()
    if scores.shape != (len(users), model.n_items):
        raise UnsupportedError(
            f"model '{model.name}' returned scores of shape {scores.shape}, "
            f"expected {(len(users), model.n_items)}"
        )
    if excluded is not None:
        mask_rows(scores, excluded[users])
    if allowed is not None:
        scores = scores[:, allowed]
    priority = tie_priority(users, allowed if allowed is not None else model.n_items, tie_seed)
    idx, top = top_k(scores, max(k, rerank.pool) if rerank else k, priority=priority)
    if allowed is not None:
        idx = allowed[idx]
    # -inf (excluded) and NaN (unscorable) items are not recommendations
    lists = np.where(top > -np.inf, idx, -1).astype(np.int64)
    if rerank is not None:
        histories = excluded[users] if excluded is not None else None
        if histories is None and isinstance(hist_rows, sp.csr_matrix):
            histories = hist_rows[users]
        lists = rerank.apply(lists, top, k, histories)
    return lists


def _hit_matrix(rec: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """hits[i, j]: item rec[i, j] is among row i's relevant items (sorted-key search)."""
    n_items = relevant.shape[1]
    rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    rel_keys = rows * n_items + relevant.indices  # ascending: rows ascend, indices sorted
    rec_keys = np.arange(rec.shape[0], dtype=np.int64)[:, None] * n_items + rec
    pos = np.searchsorted(rel_keys, rec_keys)
    found = rel_keys[np.minimum(pos, len(rel_keys) - 1)] == rec_keys if len(rel_keys) else False
    return (rec >= 0) & (pos < len(rel_keys)) & found


# ---- inputs --------------------------------------------------------------------------------
def _resolve_metrics(
    metrics: Sequence[str] | None, ks: Sequence[int]
) -> tuple[list[str], list[int]]:
    if isinstance(ks, int):
        ks = [ks]
    all_ks = {int(k) for k in ks}
    if metrics is None:
        names = list(
            M.RANKING_METRICS
            + M.LIST_METRICS
            + B.BEYOND_LIST_METRICS
            + M.CATALOGUE_METRICS
            + B.BEYOND_CATALOGUE_METRICS
            + M.RATING_METRICS
            + M.CLICK_METRICS
        )
    else:
        if isinstance(metrics, str):
            metrics = [metrics]
        names = []
        for raw in metrics:
            name, cut = parse_metric(raw)
            if cut is not None:
                all_ks.add(cut)
            if name not in names:
                names.append(name)
    if not all_ks or min(all_ks) < 1:
        raise ConfigError(f"cut-offs k must be positive integers (got {list(ks)})")
    return names, sorted(all_ks)


def parse_metric(raw: str) -> tuple[str, int | None]:
    """'NDCG@10' -> ('ndcg', 10); RecBole's names map to ours ('ItemCoverage' -> 'coverage')."""
    name, _, cut = raw.strip().lower().partition("@")
    name = _ALIASES.get(name, name)
    if name not in M.ALL_METRICS + B.BEYOND_METRICS:
        raise ConfigError(
            f"unknown metric '{raw}' (known: {', '.join(M.ALL_METRICS + B.BEYOND_METRICS)}; "
            "add @k for a cut-off, e.g. ndcg@10)"
        )
    if not cut:
        return name, None
    if not cut.isdigit() or int(cut) < 1:
        raise ConfigError(f"metric '{raw}': the cut-off after @ must be a positive integer")
    return name, int(cut)


def metric_label(raw: str) -> str:
    """The key a metric has in results: 'NDCG@10' -> 'ndcg@10', 'RMSE' -> 'rmse'."""
    name, cut = parse_metric(raw)
    return name if cut is None else M.metric_key(name, cut)


def _column_order(names: list[str], ks: list[int], have: pd.Index) -> list[str]:
    wanted = [M.metric_key(n, k) for n in names for k in ks]
    return [c for c in wanted if c in have]


def _check_catalogue(model: Recommender[Any], test: Dataset) -> None:
    if test.item_map is not model.item_map and test.item_map != model.item_map:
        raise DataError(
            f"test data '{test.name}' has a different item catalogue than the model "
            f"({test.n_items} vs {model.n_items} items): split one Dataset into train and "
            "test so they share id maps"
        )


def _candidate_columns(
    model: Recommender[Any], candidates: Sequence[Any] | np.ndarray | None
) -> np.ndarray | None:
    if candidates is None:
        return None
    if isinstance(candidates, np.ndarray) and candidates.dtype.kind in "iu":
        idx = candidates.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= model.n_items):
            raise DataError(f"candidate item indices must lie in 0..{model.n_items - 1}")
    else:
        assert model.item_map is not None
        idx = model.item_map.lookup(candidates)
    idx = np.unique(idx)
    if idx.size == 0:
        raise DataError("the candidate set is empty: give at least one item to rank")
    return idx


def _relevant_matrix(test: Dataset, allowed: np.ndarray | None, n_items: int) -> sp.csr_matrix:
    """Binary user x item matrix of test items (only candidates when there are some)."""
    rel = test.binary_csr
    if allowed is not None:
        keep = np.zeros(n_items, dtype=np.float32)
        keep[allowed] = 1.0
        rel = (rel @ sp.diags(keep)).tocsr()
        rel.eliminate_zeros()
    rel = rel.copy()
    rel.sort_indices()
    return rel


def _exclusion_matrix(exclude: Exclusion, test: Dataset, n_items: int) -> sp.csr_matrix | None:
    if exclude is None:
        return None
    if isinstance(exclude, Dataset):
        exclude = [exclude]
    if isinstance(exclude, Sequence):
        if not exclude:
            return None
        mats = []
        for ds in exclude:
            if ds.item_map is not test.item_map and ds.item_map != test.item_map:
                raise DataError(
                    f"excluded data '{ds.name}' has a different item catalogue than the test data"
                )
            if ds.user_map is not test.user_map and ds.user_map != test.user_map:
                raise DataError(
                    f"excluded data '{ds.name}' has different users than the test data: "
                    "split one Dataset so the parts share id maps"
                )
            mats.append(ds.binary_csr)
        total = mats[0] if len(mats) == 1 else sum(mats[1:], mats[0])
        return sp.csr_matrix(total)
    matrix = sp.csr_matrix(exclude)
    if matrix.shape != (test.n_users, n_items):
        raise DataError(
            f"exclusion matrix has shape {matrix.shape}, expected (users, items) = "
            f"{(test.n_users, n_items)}"
        )
    return matrix


def _history_source(
    model: Recommender[Any], test: Dataset, history: Dataset | sp.spmatrix | sp.sparray | None
) -> tuple[sp.csr_matrix | list[np.ndarray] | None, str]:
    """Rows to feed `score_histories`, or None to score known users by index."""
    if history is not None and isinstance(model, FoldsIn | ScoresSequences):
        if isinstance(history, Dataset) and isinstance(model, ScoresSequences):
            # order matters to sequence models and a matrix row has none: pass each
            # user's items in time order
            if history.n_users != test.n_users:
                raise DataError(
                    f"history has {history.n_users} users, the test data {test.n_users}"
                )
            return history.sequences(), "score_sequences"
        if isinstance(history, Dataset):
            rows = history.csr
        else:
            rows = sp.csr_matrix(history, dtype=np.float32)
        if rows.shape != (test.n_users, model.n_items):
            raise DataError(
                f"history matrix has shape {rows.shape}, expected (users, items) = "
                f"{(test.n_users, model.n_items)}"
            )
        return rows, "score_histories"
    if test.user_map is not model.user_map and test.user_map != model.user_map:
        raise DataError(
            f"test data '{test.name}' has different users than the model was trained on: "
            "split one Dataset so the parts share id maps, or pass `history=` to a model "
            "with fold-in"
        )
    return None, "score_users"


def _rating_metrics(
    model: Recommender[Any], test: Dataset, names: list[str], *, explicit_request: bool
) -> dict[str, float]:
    wanted = [m for m in names if m in M.RATING_METRICS]
    if not wanted:
        return {}
    predicts = isinstance(model, PredictsRatings)
    if not predicts or not test.explicit or test.n_interactions == 0:
        if explicit_request:
            why = "does not predict ratings" if not predicts else "has no ratings"
            who = f"model '{model.name}'" if not predicts else f"test data '{test.name}'"
            raise UnsupportedError(f"cannot compute {', '.join(wanted)}: {who} {why}")
        return {}
    assert isinstance(model, PredictsRatings)
    predicted = np.asarray(model.predict(test.users_idx, test.items_idx), dtype=np.float64)
    out = {}
    if "rmse" in wanted:
        out["rmse"] = M.rmse(predicted, test.values)
    if "mae" in wanted:
        out["mae"] = M.mae(predicted, test.values)
    return out


def _click_metrics(
    model: Recommender[Any],
    test: Dataset,
    excluded: sp.csr_matrix | None,
    users: np.ndarray,
    names: list[str],
    *,
    explicit_request: bool,
    threshold: float,
) -> dict[str, float]:
    """AUC, log-loss and ECE of a click model over each test user's held-out items
    (clicks: value >= threshold on rated data, every item on implicit data) and the
    model's candidates the user never touched (non-clicks)."""
    wanted = [m for m in names if m in M.CLICK_METRICS]
    if not wanted:
        return {}
    if not isinstance(model, PredictsClicks):
        if explicit_request:
            raise UnsupportedError(
                f"cannot compute {', '.join(wanted)}: model '{model.name}' does not predict "
                "clicks (use a click model, e.g. rerank)"
            )
        return {}
    labels, probs = click_pairs(model, test, excluded, users, threshold)
    values = {
        "auc": M.auc(labels, probs),
        "logloss": M.log_loss(labels, probs),
        "ece": M.expected_calibration_error(labels, probs),
    }
    return {m: values[m] for m in wanted}


def click_pairs(
    model: PredictsClicks,
    test: Dataset,
    excluded: sp.csr_matrix | None,
    users: np.ndarray,
    threshold: float = CLICK_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of every held-out pair of `users` and every candidate of
    theirs they never touched (see _click_metrics)."""
    values = test.csr
    n_items = values.shape[1]
    label_parts, prob_parts = [], []
    for start in range(0, len(users), _CLICK_USERS_PER_CHUNK):
        chunk = users[start : start + _CLICK_USERS_PER_CHUNK]
        seen = excluded[chunk] if excluded is not None else sp.csr_matrix((len(chunk), n_items))
        cands = model.candidate_lists(chunk, seen)
        rows = values[chunk]
        width = int(np.diff(rows.indptr).max(initial=0)) + cands.shape[1]
        items = np.full((len(chunk), width), -1, dtype=np.int64)
        labels = np.zeros((len(chunk), width), dtype=bool)
        for r in range(len(chunk)):
            held = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
            rated = rows.data[rows.indptr[r] : rows.indptr[r + 1]]
            untouched = cands[r][(cands[r] >= 0) & ~np.isin(cands[r], held)]
            if seen.nnz:
                untouched = untouched[~np.isin(untouched, seen[r].indices)]
            items[r, : len(held)] = held
            labels[r, : len(held)] = rated >= threshold if test.explicit else True
            items[r, len(held) : len(held) + len(untouched)] = untouched
        probs = model.click_probabilities(chunk, items, seen)
        present = items >= 0
        label_parts.append(labels[present])
        prob_parts.append(np.asarray(probs)[present])
    return np.concatenate(label_parts), np.concatenate(prob_parts)
