"""The features a click model reads for a (user, candidate item) pair, as NumPy arrays.

Per user: codes of the side attributes (age band, gender, occupation; 0 = unknown), a text
profile (the unit mean of the text embeddings of the user's items) and the number of items
they have. Per item: codes of the release decade and of the item itself (0 = no training
interactions), genres as a multi-hot row, a text embedding (zero row = no text) and its
popularity. Per pair: the retriever's score (z-scored over the user's candidates), its
rank among them, and the cosine of the user's profile and the item's text.

A user without a row in the user table, or a history given ad hoc, has all-zero attribute
codes; an item without text has a zero text row, so its cosine and text field are zero:
the model falls back to what is known (`fallback_notes` says which).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: user attribute columns read when the user table has them (MovieLens names)
USER_COLUMNS: tuple[str, ...] = ("age", "gender", "occupation")
#: lower edges of the age bands (MovieLens-1M's groups), band 0 = unknown
AGE_EDGES = np.array([0, 18, 25, 35, 45, 50, 56])
#: rank buckets: floor(log2(rank + 1)) for ranks 0..; enough for 2^15 candidates
RANK_BUCKETS = 16
#: dense per-pair features, in column order
DENSE: tuple[str, ...] = ("score_z", "rank_share", "text_cosine", "item_pop", "user_activity")


@dataclass(frozen=True)
class UserSide:
    """Per-user arrays for a set of users (rows align with the users scored)."""

    codes: np.ndarray  # (n, len(USER_COLUMNS)) int64, 0 = unknown
    profile: np.ndarray  # (n, d) float32 unit rows; zero when no item of theirs has text
    activity: np.ndarray  # (n,) float32 in [0, 1]: log items / log max items in training


@dataclass(frozen=True)
class PairBlock:
    """Features of the pairs (row r of `user_rows`-aligned side arrays, item) to score."""

    user_rows: np.ndarray  # (P,) row into the UserSide arrays
    items: np.ndarray  # (P,) item indices
    rank_bucket: np.ndarray  # (P,) int64
    dense: np.ndarray  # (P, len(DENSE) + signals) float32


def user_codes(users: pd.DataFrame | None, n_users: int) -> np.ndarray:
    """(n_users, 3) codes of age band, gender and occupation; 0 where unknown. String
    attributes are coded by their sorted distinct values (1..), fixed at fit time."""
    out = np.zeros((n_users, len(USER_COLUMNS)), dtype=np.int64)
    if users is None:
        return out
    for j, col in enumerate(USER_COLUMNS):
        if col not in users.columns:
            continue
        values = users[col].iloc[:n_users]
        if col == "age":
            ages = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            band = np.searchsorted(AGE_EDGES, ages, side="right")
            out[: len(ages), j] = np.where(np.isfinite(ages), band, 0)
        else:
            text = values.astype("string").str.strip().str.lower()
            known = text.notna() & (text != "")
            vocab = {v: i + 1 for i, v in enumerate(sorted(set(text[known].tolist())))}
            out[: len(text), j] = [
                vocab.get(v, 0) if ok else 0 for v, ok in zip(text, known, strict=True)
            ]
    return out


def item_codes(items: pd.DataFrame | None, n_items: int, has_id: np.ndarray) -> np.ndarray:
    """(n_items, 2): release decade code (0 unknown) and the item's own code (index + 1,
    0 for items with no training interactions, whose ID says nothing yet)."""
    out = np.zeros((n_items, 2), dtype=np.int64)
    if items is not None and "year" in items.columns:
        years = pd.to_numeric(items["year"].iloc[:n_items], errors="coerce").to_numpy(float)
        decade = np.floor((years - 1900) / 10) + 1  # 1900s -> 1; before 1900 clipped to 1
        out[: len(years), 0] = np.where(np.isfinite(years), np.clip(decade, 1, 20), 0)
    out[:, 1] = np.where(has_id, np.arange(1, n_items + 1), 0)
    return out


def genre_matrix(items: pd.DataFrame | None, n_items: int) -> np.ndarray:
    """(n_items, n_genres + 1) multi-hot float32; column 0 marks items with no genre."""
    if items is None or "genres" not in items.columns:
        out = np.zeros((n_items, 1), dtype=np.float32)
        out[:, 0] = 1.0
        return out
    cells = items["genres"].iloc[:n_items].astype("string").fillna("").str.lower()
    lists = [[g.strip() for g in str(c).split("|") if g.strip()] for c in cells]
    vocab = sorted({g for gs in lists for g in gs})
    col = {g: i + 1 for i, g in enumerate(vocab)}
    out = np.zeros((n_items, len(vocab) + 1), dtype=np.float32)
    for i, gs in enumerate(lists):
        if gs:
            out[i, [col[g] for g in gs]] = 1.0
        else:
            out[i, 0] = 1.0
    return out


def user_side(
    history: sp.csr_matrix,
    codes: np.ndarray,
    item_text: np.ndarray,
    max_activity: float,
) -> UserSide:
    """Profile and activity of the history rows, with the given attribute codes."""
    binary = history.copy().tocsr()
    binary.data = np.ones_like(binary.data)
    summed = np.asarray(binary @ item_text, dtype=np.float32)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    profile = np.divide(summed, norms, out=np.zeros_like(summed), where=norms > 0)
    counts = np.diff(binary.indptr).astype(np.float64)
    activity = np.log1p(counts) / np.log1p(max(max_activity, 1.0))
    return UserSide(codes, profile, activity.astype(np.float32))


def pair_block(
    candidates: np.ndarray,
    scores: np.ndarray,
    side: UserSide,
    item_text: np.ndarray,
    item_pop: np.ndarray,
    n_candidates: int,
    signals: Sequence[np.ndarray] = (),
) -> PairBlock:
    """Features of every (row, item) in `candidates` (n, c), -1 = none, where
    `candidates[:, j]` is the retriever's rank j and `scores` its scores of them.
    `signals` are other models' scores over all items (n, n_items each)."""
    rows, cols = np.nonzero(candidates >= 0)
    items = candidates[rows, cols]
    return pair_block_at(
        candidates,
        scores,
        rows,
        items,
        scores[rows, cols],
        cols,
        side,
        item_text,
        item_pop,
        n_candidates,
        signals,
    )


def pair_block_at(
    candidates: np.ndarray,
    cand_scores: np.ndarray,
    rows: np.ndarray,
    items: np.ndarray,
    item_scores: np.ndarray,
    ranks: np.ndarray,
    side: UserSide,
    item_text: np.ndarray,
    item_pop: np.ndarray,
    n_candidates: int,
    signals: Sequence[np.ndarray] = (),
) -> PairBlock:
    """Features of the pairs (rows[p], items[p]) whose retriever score is item_scores[p]
    and rank ranks[p] (0 = first). Scores are z-scored with the mean and spread of each
    row's candidate scores `cand_scores` (n, c; -inf = none), so the ranker reads how far
    an item stands out for this user, not the retriever's own scale."""
    z = _z_scores(cand_scores, rows, item_scores)
    rank = np.asarray(ranks, dtype=np.int64)
    bucket = np.minimum(np.floor(np.log2(rank + 1.0)).astype(np.int64), RANK_BUCKETS - 1)
    cosine = np.einsum("pd,pd->p", side.profile[rows], item_text[items])
    dense = np.stack(
        [
            z,
            np.minimum(rank / max(n_candidates, 1), 1.0),
            cosine,
            item_pop[items],
            side.activity[rows],
            *(_signal_z(signal, candidates, rows, items) for signal in signals),
        ],
        axis=1,
    ).astype(np.float32)
    return PairBlock(rows.astype(np.int64), items.astype(np.int64), bucket, dense)


def _z_scores(cand_scores: np.ndarray, rows: np.ndarray, item_scores: np.ndarray) -> np.ndarray:
    """item_scores z-scored with the mean and spread of their row's candidate scores."""
    s = np.where(np.isfinite(cand_scores), cand_scores, np.nan).astype(np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without candidates
        mean = np.nan_to_num(np.nanmean(s, axis=1))
        std = np.nan_to_num(np.nanstd(s, axis=1))
    own = np.asarray(item_scores, dtype=np.float64)
    z = (own - mean[rows]) / np.where(std[rows] > 0, std[rows], 1.0)
    return np.clip(np.where(np.isfinite(z), z, -6.0), -6.0, 6.0)


def _signal_z(
    signal: np.ndarray, candidates: np.ndarray, rows: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """Another model's scores of the pairs, z-scored over each row's candidates."""
    safe = np.where(candidates >= 0, candidates, 0)
    at_cands = np.take_along_axis(np.asarray(signal, dtype=np.float64), safe, axis=1)
    at_cands = np.where(candidates >= 0, at_cands, np.nan)
    return _z_scores(at_cands, rows, np.asarray(signal, dtype=np.float64)[rows, items])


def item_popularity(history: sp.csr_matrix) -> np.ndarray:
    """(n_items,) log training count over log of the largest count, in [0, 1]."""
    counts = np.bincount(history.indices, minlength=history.shape[1]).astype(np.float64)
    return (np.log1p(counts) / np.log1p(max(counts.max(initial=0.0), 1.0))).astype(np.float32)


def fallback_notes(user_known: bool, user_codes_row: np.ndarray, item_has_text: bool) -> list[str]:
    """What the ranker could not read for this pair, in words for an explanation."""
    notes = []
    if not user_known or not user_codes_row.any():
        notes.append(
            "no user attributes (age, gender, occupation): ranked on the history and the item alone"
        )
    if not item_has_text:
        notes.append("no text for this item: ranked on its other features and the retriever")
    return notes
