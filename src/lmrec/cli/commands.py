"""Wires every command group into the root app (one line per group)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    # Each group module exposes `register(app)`; groups are added as they are built.
    import importlib

    for module in (
        "lmrec.cli.data_cmd",
        "lmrec.cli.train_cmd",
        "lmrec.cli.compare_cmd",
        "lmrec.cli.serve_cmd",
        "lmrec.cli.models_cmd",
        "lmrec.cli.search_cmd",
        "lmrec.cli.profile_cmd",
        "lmrec.cli.items_cmd",
        "lmrec.cli.tune_cmd",
        "lmrec.cli.encoders_cmd",
        "lmrec.cli.ope_cmd",
        "lmrec.cli.export_cmd",
        "lmrec.cli.distil_cmd",
        "lmrec.cli.ab_cmd",
        "lmrec.cli.recommend_all_cmd",
        "lmrec.cli.users_cmd",
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        mod.register(app)
