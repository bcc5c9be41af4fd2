"""Top-k lists for every user a model knows, written to one Parquet file.

Users are cut into blocks of `block_users`; each block is one `recommend_many` call (the
same scores, tie order and exclusions as a single request). With Ray (the `lmrec[ray]`
extra) the blocks are a Ray Data dataset mapped by a pool of `workers` actors, each
loading the model once, on a local Ray or on a cluster joined by address; without it the
blocks run one after another in this process. Either way the driver streams the blocks,
in user order, into the file, so memory stays at a few blocks whatever the user count.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lmrec.core.options import FitOptions
from lmrec.errors import ConfigError
from lmrec.models.artifacts import load_model
from lmrec.models.base import Recommender
from lmrec.models.batch import recommend_many
from lmrec.models.ray_session import ray_installed, ray_session

#: users per block: one block is one task for a worker and one row group in the file
BLOCK_USERS = 2048

SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("rank", pa.int64()),
        ("item_id", pa.string()),
        ("score", pa.float64()),
    ]
)


@dataclass(frozen=True)
class RecommendAllReport:
    #: users the model knows (a user with nothing left to rank has no rows)
    users: int
    rows: int
    seconds: float
    #: "ray" or "local" (one process)
    engine: str
    workers: int


def recommend_all(
    model_dir: Path,
    out: Path,
    k: int = 10,
    *,
    use_ray: bool | None = None,
    workers: int = 2,
    address: str | None = None,
    threads: int | None = 1,
    block_users: int = BLOCK_USERS,
) -> RecommendAllReport:
    """Write user_id, rank (1 = best), item_id, score for every known user to `out`
    (Parquet). `use_ray` None: Ray when it is installed. `threads` per worker (or for the
    one process)."""
    if k < 1:
        raise ConfigError(f"k must be at least 1 (got {k})")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1 (got {workers})")
    if block_users < 1:
        raise ConfigError(f"block_users must be at least 1 (got {block_users})")
    if out.suffix.lower() != ".parquet":
        raise ConfigError(f"--out {out}: recommend-all writes Parquet; name it *.parquet")
    if use_ray is None:
        use_ray = ray_installed() or address is not None
    model_dir = model_dir.resolve()  # workers may start in another directory
    options = FitOptions(threads=threads)
    started = time.perf_counter()
    # loaded here in both cases: the artifact is checked before any worker starts
    model = load_model(model_dir, options)
    n_users = _n_users(model)
    if use_ray:
        blocks = _ray_blocks(model_dir, n_users, k, options, workers, block_users, address)
    else:
        blocks = _local_blocks(model, k, block_users)
    rows = _write(blocks, out)
    seconds = time.perf_counter() - started
    return RecommendAllReport(n_users, rows, seconds, "ray" if use_ray else "local", workers)


def _n_users(model: Recommender[Any]) -> int:
    assert model.user_map is not None
    return len(model.user_map)


def recommend_block(model: Recommender[Any], users: np.ndarray, k: int) -> pd.DataFrame:
    """The lists of the users at these indices, in the shared frame layout."""
    assert model.user_map is not None
    return recommend_many(model, model.user_map.to_ids(users), k)


def _local_blocks(model: Recommender[Any], k: int, block_users: int) -> Iterator[pa.Table]:
    n_users = _n_users(model)
    for start in range(0, n_users, block_users):
        users = np.arange(start, min(start + block_users, n_users))
        yield pa.Table.from_pandas(
            recommend_block(model, users, k), schema=SCHEMA, preserve_index=False
        )


class _BlockRecommender:
    """A Ray Data actor: loads the model once, then answers blocks of user indices."""

    def __init__(self, model_dir: str, k: int, options: FitOptions) -> None:
        self.model = load_model(model_dir, options)
        self.k = k

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        users = batch["id"].to_numpy(dtype=np.int64)
        return recommend_block(self.model, users, self.k)


def _ray_blocks(
    model_dir: Path,
    n_users: int,
    k: int,
    options: FitOptions,
    workers: int,
    block_users: int,
    address: str | None,
) -> Iterator[pa.Table]:
    with ray_session(address, cpus=workers, what="recommend-all on Ray") as ray:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the file lists users in order
        context.enable_progress_bars = False
        # blocks made here, in the object store: a read task would wait for a CPU that
        # the actor pool holds (with as many CPUs as workers, it never gets one)
        users = ray.data.from_pandas(
            [
                pd.DataFrame({"id": np.arange(start, min(start + block_users, n_users))})
                for start in range(0, n_users, block_users)
            ]
        )
        lists = users.map_batches(
            _BlockRecommender,
            fn_constructor_args=(str(model_dir), k, options),
            batch_size=block_users,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        for table in lists.iter_batches(batch_format="pyarrow", batch_size=None):
            yield table.select(SCHEMA.names).cast(SCHEMA)


def _write(blocks: Iterator[pa.Table], out: Path) -> int:
    """Stream blocks into `out` (written to a temporary name, then moved into place, so a
    failed run leaves no half file); returns the rows written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    rows = 0
    try:
        with pq.ParquetWriter(partial, SCHEMA) as writer:
            for table in blocks:
                writer.write_table(table)
                rows += table.num_rows
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return rows
