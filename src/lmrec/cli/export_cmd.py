"""`lmrec export`: a trained model as a compressed, portable model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli.common import ThreadsOpt, console, print_json


def export_cmd(
    model_dir: Annotated[Path, typer.Argument(help="directory written by `lmrec train`")],
    out: Annotated[Path, typer.Option("--out", help="directory to write the exported model to")],
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="onnx")] = "onnx",
    quantize: Annotated[
        str,
        typer.Option(
            metavar="MODE",
            help="none (fp32), int8 (dense layers and item table) or fp16 (every weight)",
        ),
    ] = "none",
    parity_users: Annotated[
        int, typer.Option("--parity-users", min=1, help="users compared with the original")
    ] = 256,
    threads: ThreadsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Export a trained neural model (sasrec, gru4rec, hybrid, ncf) as an ONNX scoring
    graph, optionally quantised. The directory written is a model like any other: `lmrec evaluate`,
    `lmrec recommend` and `lmrec serve` run it through ONNX Runtime, without torch.

    A parity check compares it with the original on a sample of known users (top-10
    overlap, largest score difference); it is printed and kept in model.json."""
    from lmrec.models.compressed.export import export_model

    model = export_model(model_dir, out, fmt, quantize, threads, parity_users)
    parity = model.parity_ or {}
    assert model.graph_ is not None
    sizes = {"graph_bytes": len(model.graph_), "source_params": model.source_params_}
    if as_json:
        print_json({"out": str(out), "quantize": quantize, "parity": parity, **sizes})
        return
    fp32_mb = (model.source_params_ or 0) * 4 / 1e6
    console.print(
        f"exported {model.config.source} to {out} ({fmt}, {quantize}): model.onnx "
        f"{len(model.graph_) / 1e6:.2f} MB ({model.source_params_:,} parameters, "
        f"{fp32_mb:.2f} MB in fp32); parity on {parity.get('users')} users: top-10 overlap "
        f"{parity.get('top10_overlap')}, max score error {parity.get('max_abs_error')} "
        f"(scores span {parity.get('score_range')})",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
