"""MovieLens in GroupLens' own layouts: 100k (u.data/u.item/u.user), 1M and 10M (`::`
separated .dat files), 20M/25M/latest (CSV with a header).

Every reader gives items the columns `title` (year removed), `year` and `genres`
('|'-joined), so downstream code sees the same catalogue whatever the source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset, DropReport
from lmrec.data.readers._common import build_dataset, guess_encoding, split_title_year
from lmrec.data.readers._table import Kind, OnBadLines, TableFormat, read_table

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

# ML-1M codes occupations as numbers (its README lists them).
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

_RATINGS = ("user_id", "item_id", "value", "timestamp")
_RATING_KINDS: dict[str, Kind] = {
    "user_id": "int_id",
    "item_id": "int_id",
    "value": "rating",
    "timestamp": "int",
}


def read_ml100k(
    directory: Path, *, on_bad_lines: OnBadLines = "error", name: str = "ml-100k"
) -> Dataset:
    """u.data (tab separated), u.item (pipe separated, Latin-1), u.user."""
    report = DropReport()
    fmt = TableFormat(sep="\t", header=False, names=_RATINGS, quoted=False)
    df = read_table(
        directory / "u.data", fmt, _RATING_KINDS, on_bad_lines=on_bad_lines, report=report
    )
    report.rows_read = len(df) + report.total
    items = users = None
    if (directory / "u.item").exists():
        flags = tuple(f"g{i}" for i in range(len(ML100K_GENRES)))
        names = ("item_id", "title", "release_date", "video_release_date", "imdb_url", *flags)
        item_fmt = TableFormat(sep="|", header=False, names=names, quoted=False, encoding="latin-1")
        kinds: dict[str, Kind] = {"item_id": "int_id", **dict.fromkeys(flags, "int")}
        raw = read_table(
            directory / "u.item", item_fmt, kinds, on_bad_lines=on_bad_lines, report=report
        )
        title, year = split_title_year(raw["title"])
        date_year = pd.to_numeric(raw["release_date"].str[-4:], errors="coerce").astype("Int64")
        items = pd.DataFrame(
            {
                "item_id": raw["item_id"],
                "title": title,
                "year": year.fillna(date_year),
                "genres": _join_flags(raw[list(flags)].to_numpy() == 1, ML100K_GENRES),
                "release_date": raw["release_date"],
                "imdb_url": raw["imdb_url"],
            }
        )
    if (directory / "u.user").exists():
        user_fmt = TableFormat(
            sep="|",
            header=False,
            names=("user_id", "age", "gender", "occupation", "zip_code"),
            quoted=False,
        )
        users = read_table(
            directory / "u.user",
            user_fmt,
            {"user_id": "int_id", "age": "int"},
            on_bad_lines=on_bad_lines,
            report=report,
        )
    return build_dataset(df, items=items, users=users, name=name, report=report, explicit=True)


def read_movielens_dat(
    directory: Path, *, on_bad_lines: OnBadLines = "error", name: str | None = None
) -> Dataset:
    """ML-1M / ML-10M: ratings.dat, movies.dat, and users.dat (1M) or tags.dat (10M)."""
    report = DropReport()
    fmt = TableFormat(sep="::", header=False, names=_RATINGS, quoted=False)
    df = read_table(
        directory / "ratings.dat", fmt, _RATING_KINDS, on_bad_lines=on_bad_lines, report=report
    )
    report.rows_read = len(df) + report.total
    items = users = None
    movies = directory / "movies.dat"
    if movies.exists():
        movie_fmt = TableFormat(
            sep="::",
            header=False,
            names=("item_id", "title", "genres"),
            quoted=False,
            encoding=guess_encoding(movies),
        )
        raw = read_table(
            movies, movie_fmt, {"item_id": "int_id"}, on_bad_lines=on_bad_lines, report=report
        )
        items = _movie_table(raw)
    tags = directory / "tags.dat"
    if items is not None and tags.exists():
        tag_fmt = TableFormat(
            sep="::",
            header=False,
            names=("user_id", "item_id", "tag", "timestamp"),
            quoted=False,
            encoding=guess_encoding(tags),
        )
        raw_tags = read_table(
            tags, tag_fmt, {"item_id": "int_id"}, on_bad_lines=on_bad_lines, report=report
        )
        items = _attach_tags(items, raw_tags)
    if (directory / "users.dat").exists():
        user_fmt = TableFormat(
            sep="::",
            header=False,
            names=("user_id", "gender", "age", "occupation", "zip_code"),
            quoted=False,
        )
        users = read_table(
            directory / "users.dat",
            user_fmt,
            {"user_id": "int_id", "age": "int", "occupation": "int"},
            on_bad_lines=on_bad_lines,
            report=report,
        )
        codes = users["occupation"].to_numpy()
        known = (codes >= 0) & (codes < len(ML1M_OCCUPATIONS))
        names = np.asarray(ML1M_OCCUPATIONS, dtype=object)[np.where(known, codes, 0)]
        users["occupation"] = np.where(known, names, codes.astype(str))
    return build_dataset(
        df,
        items=items,
        users=users,
        name=name or directory.name,
        report=report,
        explicit=True,
    )


def read_movielens_csv(
    directory: Path, *, on_bad_lines: OnBadLines = "error", name: str | None = None
) -> Dataset:
    """ML-20M / ML-25M / ml-latest(-small): ratings.csv, movies.csv, tags.csv."""
    report = DropReport()
    fmt = TableFormat(sep=",", header=True)
    kinds: dict[str, Kind] = {
        "userId": "int_id", "movieId": "int_id", "rating": "rating", "timestamp": "int"
    }  # fmt: skip
    raw = read_table(
        directory / "ratings.csv", fmt, kinds, on_bad_lines=on_bad_lines, report=report
    )
    report.rows_read = len(raw) + report.total
    df = raw.rename(columns={"userId": "user_id", "movieId": "item_id", "rating": "value"})[
        list(_RATINGS)
    ]
    items = None
    if (directory / "movies.csv").exists():
        movies = read_table(
            directory / "movies.csv",
            fmt,
            {"movieId": "int_id"},
            on_bad_lines=on_bad_lines,
            report=report,
        ).rename(columns={"movieId": "item_id"})
        items = _movie_table(movies)
        if (directory / "tags.csv").exists():
            tags = read_table(
                directory / "tags.csv",
                fmt,
                {"movieId": "int_id"},
                on_bad_lines=on_bad_lines,
                report=report,
                usecols=("movieId", "tag"),
            ).rename(columns={"movieId": "item_id"})
            items = _attach_tags(items, tags)
    return build_dataset(
        df, items=items, users=None, name=name or directory.name, report=report, explicit=True
    )


def _movie_table(raw: pd.DataFrame) -> pd.DataFrame:
    title, year = split_title_year(raw["title"])
    genres = raw["genres"].fillna("").astype("str").str.strip()
    genres = genres.where(genres != "(no genres listed)", "")
    return pd.DataFrame({"item_id": raw["item_id"], "title": title, "year": year, "genres": genres})


def _attach_tags(items: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    """Free-text tags per movie as one '|'-joined text column (each distinct tag once)."""
    tags = tags.loc[tags["item_id"].notna() & tags["tag"].notna(), ["item_id", "tag"]]
    tags = tags.assign(tag=tags["tag"].astype("str").str.strip())
    tags = tags.loc[tags["tag"] != ""].drop_duplicates()
    joined = tags.groupby("item_id", sort=False)["tag"].agg("|".join)
    out = items.copy()
    out["tags"] = out["item_id"].map(joined).fillna("")
    return out


def _join_flags(flags: np.ndarray, names: tuple[str, ...]) -> pd.Series:
    """Rows of 0/1 flags -> 'A|B' strings, one vectorised pass per genre."""
    joined = pd.Series([""] * len(flags), dtype="str")
    for j, genre in enumerate(names):
        joined = joined + np.where(flags[:, j], genre + "|", "")
    return joined.str.rstrip("|")
