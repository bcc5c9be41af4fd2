"""`lmrec recommend MODEL_DIR --users FILE`: lists for many users at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from lmrec.cli.common import err_console
from lmrec.core.rerank import Reranker
from lmrec.errors import ConfigError, DataError
from lmrec.models.base import Recommender
from lmrec.models.reranking import rerank_frame

OUT_FORMATS = (".csv", ".tsv", ".parquet", ".jsonl", ".json")


def read_user_ids(path: Path) -> list[str]:
    """User ids from a file: one per line, or a table (CSV/TSV/Parquet) with a user_id
    column. Ids are kept as text, exactly as written."""
    if not path.exists():
        raise DataError("user file not found", path=str(path))
    if path.suffix.lower() == ".parquet":
        table = pd.read_parquet(path)
        if "user_id" not in table.columns:
            raise DataError("needs a user_id column", path=str(path), field="user_id")
        column = table["user_id"].astype(str)
    else:
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            table = pd.read_csv(path, sep=sep, header=None, dtype=str, skip_blank_lines=True)
        except pd.errors.EmptyDataError:
            raise DataError("the user file is empty", path=str(path)) from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the user file ({exc})", path=str(path)) from None
        header = [str(v).strip() for v in table.iloc[0]]
        if "user_id" in header:
            column = table.iloc[1:, header.index("user_id")]
        elif table.shape[1] == 1:
            column = table.iloc[:, 0]
        else:
            raise DataError(
                f"{table.shape[1]} columns and none named user_id: give one id per line, "
                "or a header row with a user_id column",
                path=str(path),
                line=1,
            )
        column = column.dropna().astype(str).str.strip()
    ids = [u for u in column.tolist() if u]
    if not ids:
        raise DataError("no user ids in the file", path=str(path))
    return ids


def recommend_for_file(
    model: Recommender,
    users_file: Path,
    k: int,
    *,
    fields: list[str] | None,
    out: Path | None,
    as_json: bool,
    reranker: Reranker | None = None,
) -> None:
    """Write (or print as CSV/JSON) one row per (user, rank); say on stderr how many users
    were answered and which were not known to the model."""
    if out is not None and out.suffix.lower() not in OUT_FORMATS:
        raise ConfigError(f"--out {out}: use one of {', '.join(OUT_FORMATS)}")
    asked = read_user_ids(users_file)
    distinct = list(dict.fromkeys(asked))
    assert model.user_map is not None
    unknown = [u for u in distinct if u not in model.user_map]
    pool = max(k, reranker.pool) if reranker is not None else k
    frame = model.recommend_many(distinct, pool, unknown="skip", fields=fields)
    if reranker is not None:
        frame = rerank_frame(model, reranker, frame, k)
    if out is not None:
        write_frame(frame, out)
    elif as_json:
        sys.stdout.write(frame.to_json(orient="records", force_ascii=False) + "\n")
    else:
        frame.to_csv(sys.stdout, index=False)
    note = f"{len(distinct) - len(unknown):,} users, {len(frame):,} rows"
    if out is not None:
        note += f" written to {out}"
    if len(asked) != len(distinct):
        note += f"; {len(asked) - len(distinct):,} repeated ids answered once"
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        note += (
            f"; {len(unknown):,} users unknown to the model left out ({shown}): recommend "
            "for them by history (--history) or retrain"
        )
    err_console.print(note, highlight=False, soft_wrap=True)


def write_frame(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix in (".jsonl", ".json"):
        frame.to_json(out, orient="records", lines=suffix == ".jsonl", force_ascii=False)
    else:
        frame.to_csv(out, index=False, sep="\t" if suffix == ".tsv" else ",")
