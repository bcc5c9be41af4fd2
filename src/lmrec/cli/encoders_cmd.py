"""`lmrec encoders tune`: fine-tune the text encoder on the training part's behaviour and
save it as a sentence-transformers directory for `text.encoder.model=DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli.common import PROTOCOLS, ThreadsOpt, console, progress_messages, split_data
from lmrec.cli.data_options import DataArgs, with_data_options

encoders_app = typer.Typer(
    help="Text encoders: fine-tune one on your behaviour data.", no_args_is_help=True
)


@encoders_app.command("tune")
@with_data_options()
def tune(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="where to save the model")],
    data: Annotated[
        str | None, typer.Option("--data", metavar="NAME|PATH", help="dataset name or path")
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help=f"split whose train part is used: {', '.join(PROTOCOLS)}; or none (all data)",
        ),
    ] = "loo",
    seed: Annotated[int, typer.Option(metavar="N", help="split and sampling seed")] = 42,
    split_files: Annotated[
        str | None,
        typer.Option(
            "--split-files",
            metavar="FILES",
            help="your own split: train,valid,test CSV files (only train is used)",
        ),
    ] = None,
    base: Annotated[
        str, typer.Option(metavar="MODEL", help="encoder to start from (name or directory)")
    ] = "all-MiniLM-L6-v2",
    pairs: Annotated[int, typer.Option(min=1, help="training pairs, sampled")] = 3_000,
    history: Annotated[
        int,
        typer.Option(min=1, help="items before the next one in an anchor (1: item pairs only)"),
    ] = 1,
    epochs: Annotated[int, typer.Option(min=1, help="passes over the pairs")] = 1,
    layers: Annotated[
        str, typer.Option(metavar="N|all", help="top transformer layers to train (CPU: 2)")
    ] = "2",
    batch_size: Annotated[
        int, typer.Option(min=2, help="pairs per step; the others are the negatives")
    ] = 64,
    learning_rate: Annotated[float, typer.Option(help="AdamW learning rate")] = 2e-5,
    max_length: Annotated[int, typer.Option(min=8, help="tokens kept per text")] = 64,
    template: Annotated[
        str | None, typer.Option(metavar="TEMPLATE", help="item text template (default: columns)")
    ] = None,
    device: Annotated[
        str | None, typer.Option(metavar="DEVICE", help="cpu or cuda (default: cuda if there)")
    ] = None,
    threads: ThreadsOpt = None,
    *,
    data_args: DataArgs,
) -> None:
    """Fine-tune the text encoder with in-batch negatives on pairs from the training part
    only: an item and the next one its user took (with --history N, a user's last N items
    and the next)."""
    from lmrec.encoders.config import EncoderConfig
    from lmrec.encoders.tuning import TuneSettings, tune_encoder
    from lmrec.errors import ConfigError

    if layers != "all" and not layers.isdigit():
        raise ConfigError(f"--layers takes a number or 'all', not {layers!r}")
    settings = TuneSettings(
        pairs=pairs,
        history=history,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        layers=None if layers == "all" else int(layers),
        max_length=max_length,
        seed=seed,
        threads=threads,
        device=device,
    )
    settings.check()
    opts = data_args.resolve()
    dataset = opts.load(data or opts.path or "ml-100k")
    train = (
        dataset
        if protocol == "none" and not split_files
        else split_data(dataset, protocol, seed, split_files).train
    )
    with progress_messages("encoders tune") as say:
        result = tune_encoder(
            train, out, settings, encoder=EncoderConfig(model=base), template=template,
            progress=say,
        )  # fmt: skip
    loss = f", final loss {result.final_loss:.4f}" if result.final_loss is not None else ""
    console.print(
        f"tuned on {result.pairs:,} pairs in {result.seconds:.0f}s "
        f"({result.trained_parameters:,} of {result.total_parameters:,} parameters trained"
        f"{loss}); saved to {result.out_dir}"
    )
    console.print(
        f"use it with --set text.encoder.model={result.out_dir} (sasrec, gru4rec, hybrid) "
        f"or --set encoder.model={result.out_dir} (content)"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(encoders_app, name="encoders")
