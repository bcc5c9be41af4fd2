"""`lmrec items add`: new catalogue rows into a trained model, from their text alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from lmrec.cli.common import console
from lmrec.cli.data_options import DataArgs, with_data_options
from lmrec.errors import DataError, UnsupportedError
from lmrec.models.base import Recommender

app = typer.Typer(help="Catalogue changes for trained models.", no_args_is_help=True)


def read_item_rows(
    path: Path, id_column: str | None = None, on_bad_lines: str = "error"
) -> pd.DataFrame:
    """An item table (CSV/TSV/Parquet/JSON lines) with an id column (`id_column`, else
    item_id) beside text and attribute columns; ids as text, the id column renamed
    item_id. Prints what was read and dropped."""
    from lmrec.data.dataset import DropReport
    from lmrec.data.readers.generic import ColumnMap, read_any, table_columns

    if not path.exists():
        raise DataError("item file not found", path=str(path))
    key = id_column or "item_id"
    present = table_columns(path)
    if key not in present:
        raise DataError(
            f"the item file has no '{key}' column (columns are: {', '.join(present)}); "
            "name its id column with --columns item=NAME",
            path=str(path),
            field=key,
        )
    report = DropReport()
    frame = read_any(
        path,
        {key: "id"},
        ColumnMap(),
        on_bad_lines=on_bad_lines,  # type: ignore[arg-type]
        report=report,
        multiline=True,  # descriptions may hold line breaks
    )
    frame = frame.rename(columns={key: "item_id"})
    missing = frame["item_id"].isna() | (frame["item_id"].astype(str).str.strip() == "")
    report.add(f"{path.name}: missing item id", int(missing.sum()))
    frame = frame.loc[~missing]
    dropped = "; ".join(report.lines()) or "none"
    typer.echo(f"{path.name}: read {len(frame) + report.total:,} rows; dropped {dropped}", err=True)
    return frame.assign(item_id=frame["item_id"].astype(str))


def with_titles(model: Recommender, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame (with an item_id column) plus the items' titles when the catalogue has
    them (under any of the title column's usual names)."""
    from lmrec.encoders.text import ItemTextTemplate

    if model.items is None or frame.empty:
        return frame
    titles = ItemTextTemplate("{title}").field_values(model.items)["title"]
    if not (titles != "").any():
        return frame
    by_id = pd.Series(titles.to_numpy(), index=model.items["item_id"].astype(str))
    return frame.assign(title=frame["item_id"].astype(str).map(by_id).fillna(""))


@app.command("add")
@with_data_options("config", "columns", "on_bad_lines")
def add(
    model_dir: Annotated[Path, typer.Argument(help="directory written by `lmrec train`")],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            help="CSV/TSV/Parquet/JSON lines: an id column (item_id, or --columns item=NAME) "
            "plus the text and attribute columns the model was trained with",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="write the updated model here (default: in place)")
    ] = None,
    *,
    data_args: DataArgs,
) -> None:
    """Add (or update) items from their text so the model recommends them at once.

    Give new items the same text columns the training catalogue had (e.g. title and
    genres): text the model never saw during training (say, long descriptions added only
    for new items) ranks them far lower than the catalogue's own items."""
    from lmrec.models.artifacts import load_model, read_meta
    from lmrec.models.capabilities import SupportsAddItems

    model = load_model(model_dir)
    if not isinstance(model, SupportsAddItems):
        raise UnsupportedError(
            f"model '{model.name}' cannot take new items without retraining; use a model "
            "that reads item text (content, tfidf, hybrid)"
        )
    opts = data_args.resolve()
    id_column = opts.columns.get("item_key") or opts.columns.get("item")
    rows = read_item_rows(file, id_column, opts.on_bad_lines)
    report = model.add_items(rows)
    meta = read_meta(model_dir)
    kept = {k: v for k, v in meta.items() if k not in _OWN_META}
    kept["items_added"] = int(meta.get("items_added", 0)) + len(report.added)
    target = out or model_dir
    model.save(target, extra=kept)
    console.print(
        f"{len(report.added)} added, {len(report.updated)} updated"
        + (f", {len(report.without_text)} without text (not scored)" if report.without_text else "")
        + f"; {model.n_items:,} items; saved to {target}"
    )


# written afresh by save_model
_OWN_META = {
    "format", "model", "config", "lmrec_version", "created", "n_users", "n_items",
    "train_fingerprint",
}  # fmt: skip


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="items")
