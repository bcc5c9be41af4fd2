"""`lmrec recommend-all MODEL_DIR --out recs.parquet`: top-k for every user, in blocks,
on Ray when it is installed (lmrec.models.recommend_all)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli.common import RayAddressOpt, err_console
from lmrec.models.recommend_all import BLOCK_USERS


def recommend_all_cmd(
    model_dir: Annotated[Path, typer.Argument(help="directory written by `lmrec train`")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write")],
    k: Annotated[int, typer.Option("-k", min=1, max=10_000)] = 10,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", min=1, help="Ray workers scoring blocks")
    ] = 2,
    ray_address: RayAddressOpt = None,
    local: Annotated[
        bool, typer.Option("--local", help="one process, without Ray even when installed")
    ] = False,
    threads: Annotated[
        int, typer.Option("--threads", metavar="N", min=1, help="CPU threads per worker")
    ] = 1,
    block_users: Annotated[
        int, typer.Option("--block-users", metavar="N", min=1, help="users per block")
    ] = BLOCK_USERS,
) -> None:
    """Top-k items for every user the model knows, as rows user_id, rank, item_id, score.

    Users are scored in blocks: in parallel on Ray Data when Ray is installed (a local Ray
    with --workers CPUs, or the cluster at --ray-address), otherwise one block after
    another in this process. The lists are exactly those of `lmrec recommend`."""
    from lmrec.errors import ConfigError
    from lmrec.models.recommend_all import recommend_all

    if local and ray_address is not None:
        raise ConfigError("--local runs without Ray; leave out --ray-address")
    report = recommend_all(
        model_dir,
        out,
        k,
        use_ray=False if local else None,
        workers=workers,
        address=ray_address,
        threads=threads,
        block_users=block_users,
    )
    how = f"Ray, {report.workers} workers" if report.engine == "ray" else "one process"
    if report.engine == "local" and not local:
        how += "; pip install 'lmrec[ray]' to score blocks in parallel"
    err_console.print(
        f"{report.users:,} users, {report.rows:,} rows written to {out} "
        f"({how}, {report.seconds:.1f}s)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("recommend-all")(recommend_all_cmd)
