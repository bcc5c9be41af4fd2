"""Train / validation / test splits. All are seeded and deterministic, vectorised over
interactions, and return parts that share the full dataset's id maps and tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lmrec.data.dataset import Dataset, DropReport
from lmrec.data.readers._table import (
    SKIP,
    Kind,
    OnBadLines,
    TableFormat,
    check_on_bad_lines,
    column_names,
    line_of_record,
    read_table,
)
from lmrec.errors import ConfigError, DataError

PROTOCOLS = ("ratio", "temporal", "loo", "cold-items", "cold-users")


@dataclass
class Split:
    """Three datasets over the same maps; `valid` may be empty."""

    train: Dataset
    valid: Dataset
    test: Dataset
    protocol: str = "custom"
    dropped: DropReport = field(default_factory=DropReport)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def _from_labels(ds: Dataset, part: np.ndarray, protocol: str) -> Split:
    """part[i] in {0, 1, 2}: train, valid, test."""
    return Split(
        ds.subset(part == 0, name=f"{ds.name}:train"),
        ds.subset(part == 1, name=f"{ds.name}:valid"),
        ds.subset(part == 2, name=f"{ds.name}:test"),
        protocol=protocol,
    )


def _check_ratios(ratios: Sequence[float]) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    if r.shape != (3,) or (r < 0).any() or r[0] <= 0 or not np.isclose(r.sum(), 1.0):
        raise ConfigError(
            f"ratios must be three non-negative numbers (train, valid, test) with train > 0 "
            f"summing to 1, got {tuple(ratios)}"
        )
    return r


def _rank_within_user(users: np.ndarray, order_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row: its 0-based position among its user's rows sorted by order_key, and
    its user's number of rows."""
    order = np.lexsort((order_key, users))
    counts = np.bincount(users)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[users[order]]
    return rank, counts[users]


def _tail_sizes(n: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-user (valid, test) sizes, RecBole style: floor(n * ratio), but a part whose
    share would be between 0 and 1 row still gets one row while train keeps at least one
    (test is served before valid). So 1 row: train only; 2 rows: train + test; 3 rows:
    one each (with non-zero valid and test ratios)."""
    eps = 1e-9  # 3 * 0.7 is 2.0999...: do not lose a row to rounding
    n_valid = np.floor(n * r[1] + eps).astype(np.int64)
    n_test = np.floor(n * r[2] + eps).astype(np.int64)
    n_test = np.where((n_test == 0) & (r[2] > 0) & (n - n_valid - 1 >= 1), 1, n_test)
    n_valid = np.where((n_valid == 0) & (r[1] > 0) & (n - n_test - 1 >= 1), 1, n_valid)
    return n_valid, n_test


def _labels_from_rank(rank: np.ndarray, n: np.ndarray, r: np.ndarray) -> np.ndarray:
    n_valid, n_test = _tail_sizes(n, r)
    n_train = n - n_valid - n_test
    return np.where(rank < n_train, 0, np.where(rank < n_train + n_valid, 1, 2)).astype(np.int8)


def random_split(ds: Dataset, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Per user: shuffle the user's interactions and cut them by `ratios` (RecBole's
    'RO' split). Small users: see `_tail_sizes`; every user keeps a training row."""
    r = _check_ratios(ratios)
    noise = np.random.default_rng(seed).random(ds.n_interactions)
    rank, n = _rank_within_user(ds.users_idx, noise)
    return _from_labels(ds, _labels_from_rank(rank, n, r), "ratio")


def temporal_split(ds: Dataset, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> Split:
    """Global by time: the oldest share of all interactions trains, the newest tests.
    Cut at exact row counts; rows with equal timestamps keep their file order."""
    r = _check_ratios(ratios)
    _need_time(ds, "temporal")
    order = np.lexsort((np.arange(ds.n_interactions), ds.timestamps))
    n = ds.n_interactions
    n_train = int(np.floor(n * r[0] + 1e-9))
    n_valid = int(np.floor(n * r[1] + 1e-9))
    part = np.empty(n, dtype=np.int8)
    part[order[:n_train]] = 0
    part[order[n_train : n_train + n_valid]] = 1
    part[order[n_train + n_valid :]] = 2
    return _from_labels(ds, part, "temporal")


def leave_one_out(ds: Dataset, valid: bool = True) -> Split:
    """Per user by time: the last interaction tests, the one before validates. A user needs
    3 rows to give one to each part (2 rows: train + test; 1 row: train only)."""
    _need_time(ds, "loo")
    rank, n = _rank_within_user(ds.users_idx, _time_then_position(ds))
    from_end = n - 1 - rank
    part = np.zeros(ds.n_interactions, dtype=np.int8)
    part[(from_end == 0) & (n >= 2)] = 2
    if valid:
        part[(from_end == 1) & (n >= 3)] = 1
    return _from_labels(ds, part, "loo")


def cold_items_split(
    ds: Dataset, fraction: float = 0.1, seed: int = 0, valid_share: float = 0.5
) -> Split:
    """Hold out a `fraction` of the interacted items entirely: none of their interactions
    are in train. Held-out items are divided between valid (`valid_share` of them) and
    test, so the two never share an item either."""
    if not 0 < fraction < 1 or not 0 <= valid_share < 1:
        raise ConfigError("fraction must be in (0, 1) and valid_share in [0, 1)")
    rng = np.random.default_rng(seed)
    items = np.flatnonzero(ds.item_counts() > 0)
    n_cold = max(1, round(fraction * len(items)))
    cold = rng.permutation(items)[:n_cold]
    n_cold_valid = int(np.floor(valid_share * n_cold))
    item_part = np.zeros(ds.n_items, dtype=np.int8)
    item_part[cold[:n_cold_valid]] = 1
    item_part[cold[n_cold_valid:]] = 2
    return _from_labels(ds, item_part[ds.items_idx], "cold-items")


def cold_users_split(
    ds: Dataset,
    fraction: float = 0.1,
    max_train: int = 3,
    seed: int = 0,
    valid_share: float = 0.5,
) -> Split:
    """A sample of users (`fraction` of those with more than `max_train` rows) keeps only
    `max_train` random interactions in train; the rest of each such user's interactions
    go to valid (for a `valid_share` of the sampled users) or test. Everyone else trains
    on all their interactions. Tests how a model does for users it barely knows."""
    if not 0 < fraction < 1 or max_train < 0 or not 0 <= valid_share < 1:
        raise ConfigError("fraction in (0, 1), max_train >= 0 and valid_share in [0, 1)")
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(ds.user_counts() > max_train)
    n_cold = max(1, round(fraction * len(eligible))) if len(eligible) else 0
    cold = rng.permutation(eligible)[:n_cold]
    n_cold_valid = int(np.floor(valid_share * n_cold))
    user_part = np.zeros(ds.n_users, dtype=np.int8)
    user_part[cold[:n_cold_valid]] = 1
    user_part[cold[n_cold_valid:]] = 2
    rank, _ = _rank_within_user(ds.users_idx, rng.random(ds.n_interactions))
    row_part = user_part[ds.users_idx]
    part = np.where(rank < max_train, 0, row_part).astype(np.int8)
    return _from_labels(ds, part, "cold-users")


def split_from_files(
    ds: Dataset,
    train_path: str | Path,
    valid_path: str | Path | None,
    test_path: str | Path,
    *,
    on_bad_lines: OnBadLines = "error",
) -> Split:
    """Parts given as CSV files with a header and columns user_id, item_id[, rating,
    timestamp] (other columns ignored). Ids go through the dataset's maps; an unknown id is
    an error naming file and line, or counted when skipping. Missing rating/timestamp are
    taken from the dataset's own row for that (user, item), else 1.0 / 0."""
    check_on_bad_lines(on_bad_lines)
    report = DropReport()
    parts = []
    for path in (train_path, valid_path, test_path):
        if path is None or str(path) == "":
            parts.append(ds.subset(np.zeros(ds.n_interactions, dtype=bool)))
            continue
        parts.append(_part_from_file(ds, Path(path), on_bad_lines, report))
    names = ("train", "valid", "test")
    parts = [replace(p, name=f"{ds.name}:{n}") for p, n in zip(parts, names, strict=True)]
    return Split(parts[0], parts[1], parts[2], protocol="files", dropped=report)


def _part_from_file(
    ds: Dataset, path: Path, on_bad_lines: OnBadLines, report: DropReport
) -> Dataset:
    if not path.exists():
        raise DataError("split file not found", path=str(path))
    fmt = TableFormat(sep=",", header=True)
    present = column_names(path, fmt)
    kinds: dict[str, Kind] = {"user_id": "id", "item_id": "id"}
    if "rating" in present:
        kinds["rating"] = "float"
    if "timestamp" in present:
        kinds["timestamp"] = "timestamp"
    df = read_table(path, fmt, kinds, on_bad_lines=on_bad_lines, report=report, usecols=list(kinds))
    users = ds.user_map.lookup(df["user_id"].astype("str"), missing="mark")
    items = ds.item_map.lookup(df["item_id"].astype("str"), missing="mark")
    unknown = (users < 0) | (items < 0)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        field_name = "user_id" if users[row] < 0 else "item_id"
        if on_bad_lines == "error":
            raise DataError(
                f"unknown {field_name[:-3]} id '{df[field_name].iloc[row]}' (not in the "
                f"dataset); fix the line or {SKIP}",
                path=str(path),
                line=line_of_record(path, fmt, row),
                field=field_name,
            )
        report.add(f"{path.name}: unknown user id", int((users < 0).sum()))
        report.add(f"{path.name}: unknown item id", int(((items < 0) & (users >= 0)).sum()))
        df, users, items = df.loc[~unknown], users[~unknown], items[~unknown]
    values, stamps = _dataset_values(ds, users, items)
    if "rating" in df:
        values = df["rating"].to_numpy(dtype=np.float32)
    if "timestamp" in df:
        stamps = df["timestamp"].to_numpy(dtype=np.int64)
    return replace(ds, users_idx=users, items_idx=items, values=values, timestamps=stamps)


def _dataset_values(
    ds: Dataset, users: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Value and timestamp of the dataset's (last) row for each (user, item) pair."""
    width = max(ds.n_items, 1)
    keys = ds.users_idx.astype(np.int64) * width + ds.items_idx
    order = np.lexsort((np.arange(len(keys)), keys))
    sorted_keys = keys[order]
    wanted = users.astype(np.int64) * width + items
    pos = np.searchsorted(sorted_keys, wanted, side="right") - 1
    found = (
        (pos >= 0) & (sorted_keys[np.clip(pos, 0, None)] == wanted)
        if len(keys)
        else (np.zeros(len(wanted), dtype=bool))
    )
    values = np.ones(len(wanted), dtype=np.float32)
    stamps = np.zeros(len(wanted), dtype=np.int64)
    if found.any():
        rows = order[pos[found]]
        values[found] = ds.values[rows]
        stamps[found] = ds.timestamps[rows]
    return values, stamps


def make_split(ds: Dataset, protocol: str, seed: int = 0, **opts: object) -> Split:
    """Dispatch by protocol name: ratio | temporal | loo | cold-items | cold-users."""
    if protocol in ("ratio", "random"):
        return random_split(ds, seed=seed, **opts)  # type: ignore[arg-type]
    if protocol == "temporal":
        return temporal_split(ds, **opts)  # type: ignore[arg-type]
    if protocol in ("loo", "leave-one-out"):
        return leave_one_out(ds, **opts)  # type: ignore[arg-type]
    if protocol == "cold-items":
        return cold_items_split(ds, seed=seed, **opts)  # type: ignore[arg-type]
    if protocol == "cold-users":
        return cold_users_split(ds, seed=seed, **opts)  # type: ignore[arg-type]
    raise ConfigError(f"unknown split protocol '{protocol}' (choose from {', '.join(PROTOCOLS)})")


def _need_time(ds: Dataset, protocol: str) -> None:
    if ds.n_interactions and not ds.has_timestamps:
        raise ConfigError(
            f"the {protocol} split orders interactions by time, but this dataset has no "
            "timestamps; use the 'ratio' protocol instead"
        )


def _time_then_position(ds: Dataset) -> np.ndarray:
    """A sort key equal to time order with ties broken by file order."""
    order = np.lexsort((np.arange(ds.n_interactions), ds.timestamps))
    key = np.empty(ds.n_interactions, dtype=np.int64)
    key[order] = np.arange(ds.n_interactions)
    return key
