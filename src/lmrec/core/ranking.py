"""Top-k selection shared by every model, the evaluation and the service.

Ties are broken by a seeded random order of the items, never by item index: an item's
index follows its first appearance in the data, which tracks popularity (Spearman -0.81
on MovieLens-100k), so "lower index first" quietly favours popular items whenever a model
gives equal scores (popularity on new items, a row of zeros in item-kNN). The order is a
hash of (seed, user, item): each user gets their own order, so a model that cannot tell
items apart ranks like the random model, and every model evaluated with the same seed
sees the same order for the same user, so paired comparisons stay fair.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: seed of the tie order wherever no evaluation seed is given
DEFAULT_TIE_SEED = 0
#: the row of the tie order used for requests without a known user
NO_USER = -1


def tie_priority(
    rows: np.ndarray | list[int], items: int | np.ndarray, seed: int = DEFAULT_TIE_SEED
) -> np.ndarray:
    """(len(rows), n_items) tie priorities in [0, 2^32): among equal scores the item with
    the higher priority ranks first. `rows` are user indices (NO_USER for none); `items`
    the number of items, or the item indices of the columns when ranking a subset.

    A murmur3 finalizer over (seed, row, item) in 32-bit arithmetic: a few integer
    passes over the scores, far cheaper than a stored permutation per user."""
    r = np.asarray(rows, dtype=np.int64).astype(np.uint32)
    cols = np.arange(items) if isinstance(items, int | np.integer) else np.asarray(items)
    with np.errstate(over="ignore"):
        base = r * np.uint32(0x9E3779B9) + np.uint32(seed & 0xFFFFFFFF) * np.uint32(0x85EBCA77)
        x = np.bitwise_xor(base[:, None], cols.astype(np.uint32)[None, :] * np.uint32(0xC2B2AE3D))
        t = x >> np.uint32(16)
        x ^= t
        x *= np.uint32(0x85EBCA6B)
        np.right_shift(x, np.uint32(13), out=t)
        x ^= t
        x *= np.uint32(0xC2B2AE35)
        np.right_shift(x, np.uint32(16), out=t)
        x ^= t
    return x


def _sort_keys(scores: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """int64 keys ordered like (score, priority): the float32 score's bits mapped to an
    order-preserving integer in the high half, the tie priority in the low half. One
    argpartition over the keys then cuts at k exactly, ties included, in O(n).
    `scores` is float32 without NaN."""
    bits = (scores + np.float32(0.0)).view(np.int32)  # -0.0 + 0.0 = +0.0: the zeros tie
    bits ^= (bits >> 31) & np.int32(0x7FFFFFFF)  # negative floats: reverse their order
    keys = bits.astype(np.int64)
    keys <<= 32
    keys += priority.astype(np.int64)
    return keys


def top_k(
    scores: np.ndarray, k: int, *, priority: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best entries of each row, best first.

    NaN and -inf never rank above a real score. Works on 1-D or 2-D score arrays in
    O(n) per row plus O(k log k). Equal scores are ordered by `priority` (higher first),
    both at the cut-off and inside the list: one value per column, or per row and column
    (`tie_priority` of the users); default: the order of a request without a user.
    Scores are compared, and returned, at float32 precision.
    """
    one_row = scores.ndim == 1
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    if s.size and np.isnan(s.max()):  # max() propagates NaN: one pass, no copy otherwise
        s = np.where(np.isnan(s), np.float32(-np.inf), s)
    n = s.shape[1]
    k = max(0, min(k, n))
    if k == 0:
        empty = np.empty((s.shape[0], 0))
        return (empty[0], empty[0]) if one_row else (empty.astype(np.int64), empty)
    prio = tie_priority([NO_USER], n)[0] if priority is None else np.asarray(priority)
    if prio.shape not in ((n,), s.shape):
        raise ValueError(f"priority has shape {prio.shape}, expected ({n},) or {s.shape}")
    # One int64 key per score carries the tie priority, so one argpartition cuts at k
    # exactly. Measured against partitioning the float scores: 1.1-1.3x the time on
    # distinct scores, 2x faster on rows full of ties (where float partitioning crawls).
    keys = _sort_keys(s, prio)
    if k < n:
        part = np.argpartition(keys, n - k, axis=1)[:, n - k :]
    else:
        part = np.broadcast_to(np.arange(n), s.shape).copy()
    order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1)[:, ::-1]
    idx = np.take_along_axis(part, order, axis=1)
    top = np.take_along_axis(s, idx, axis=1)
    if one_row:
        return idx[0], top[0]
    return idx, top


def mask_rows(scores: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
    """Set scores[i, j] = -inf wherever rows[i, j] is stored (in place, returns scores)."""
    coo = rows.tocoo()
    scores[coo.row, coo.col] = -np.inf
    return scores


def drop_unrankable(idx: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut a single result list where scores become -inf (excluded or unscorable items)."""
    keep = np.isfinite(top)
    return idx[keep], top[keep]


def rank(
    scores: np.ndarray,
    k: int,
    *,
    excluded: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    user: int = NO_USER,
) -> tuple[np.ndarray, np.ndarray]:
    """One list: the top k of `scores` (1-D) without the `excluded` item indices and,
    when `allowed` (a boolean mask) is given, only among allowed items; ties in the
    order of `user` (an index, or NO_USER). Items that cannot be ranked (NaN, -inf,
    excluded) are cut from the end of the list."""
    s = np.array(scores, dtype=np.float32)
    if excluded is not None and len(excluded):
        s[excluded] = -np.inf
    if allowed is not None:
        s[~allowed] = -np.inf
    return drop_unrankable(*top_k(s, k, priority=tie_priority([user], len(s))[0]))
