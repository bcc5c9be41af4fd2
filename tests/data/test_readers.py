"""Every reader on tiny files written here, including malformed lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.data.dataset import Dataset
from lmrec.data.readers import (
    read_atomic,
    read_ml100k,
    read_movielens_csv,
    read_movielens_dat,
)
from lmrec.errors import DataError

GENRE_FLAGS_TOY = "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0"  # Animation, Children's, Comedy
GENRE_FLAGS_HEAT = "0|1|0|0|0|0|1|0|0|0|0|0|0|0|0|0|1|0|0"  # Action, Crime, Thriller


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def by_user_item(ds: Dataset) -> dict[tuple[str, str], tuple[float, int]]:
    f = ds.to_frame()
    return {(u, i): (v, t) for u, i, v, t in f.itertuples(index=False)}


# ---- ml-100k native -------------------------------------------------------------------------
@pytest.fixture
def ml100k(tmp_path: Path) -> Path:
    write(tmp_path / "u.data", "1\t10\t4\t881250949\n2\t10\t3\t881250950\n1\t20\t5\t881250951\n")
    write(
        tmp_path / "u.item",
        f"10|Toy Story (1995)|01-Jan-1995||http://x/toy|{GENRE_FLAGS_TOY}\n"
        f"20|Heat (1995)|01-Jan-1995||http://x/heat|{GENRE_FLAGS_HEAT}\n"
        f"30|Café Society (1995)|01-Jan-1995||http://x/cafe|{GENRE_FLAGS_TOY}\n",
        encoding="latin-1",
    )
    write(tmp_path / "u.user", "1|24|M|technician|01002\n2|53|F|other|94043\n")
    return tmp_path


def test_ml100k_reads_interactions_items_and_users(ml100k: Path) -> None:
    ds = read_ml100k(ml100k)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 3)  # item 30: catalogue only
    assert ds.explicit
    assert by_user_item(ds)[("1", "20")] == (5.0, 881250951)
    items = ds.items.set_index("item_id")
    assert items.loc["10", "title"] == "Toy Story"
    assert items.loc["10", "year"] == 1995
    assert items.loc["10", "genres"] == "Animation|Children's|Comedy"
    assert items.loc["20", "genres"] == "Action|Crime|Thriller"
    assert items.loc["30", "title"] == "Café Society"  # Latin-1 decoded
    users = ds.users.set_index("user_id")
    assert users.loc["1", "zip_code"] == "01002"  # text stays text: leading zero kept
    assert users.loc["2", "age"] == 53


def test_ml100k_bad_rating_names_file_line_and_field(ml100k: Path) -> None:
    write(ml100k / "u.data", "1\t10\t4\t881250949\n2\t10\tx\t881250950\n")
    with pytest.raises(DataError) as info:
        read_ml100k(ml100k)
    msg = str(info.value)
    assert "u.data, line 2, field 'value': 'x' is not a number" in msg
    assert "on_bad_lines='skip'" in msg
    assert info.value.line == 2


def test_ml100k_skip_counts_bad_lines(ml100k: Path) -> None:
    write(
        ml100k / "u.data",
        "1\t10\t4\t881250949\n2\t10\tx\t881250950\n2\t20\t3\n1\t20\t5\t881250951\n",
    )
    ds = read_ml100k(ml100k, on_bad_lines="skip")
    assert ds.n_interactions == 2
    assert ds.dropped.counts == {
        "u.data: bad value in 'value'": 1,
        "u.data: wrong number of fields": 1,
    }


# ---- ml-1m / ml-10m .dat --------------------------------------------------------------------
@pytest.fixture
def ml1m(tmp_path: Path) -> Path:
    write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::1\n")
    write(
        tmp_path / "movies.dat",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "2::Amélie (2001)::Comedy|Romance\n",
        encoding="latin-1",
    )
    write(tmp_path / "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    return tmp_path


def test_ml1m_dat(ml1m: Path) -> None:
    ds = read_movielens_dat(ml1m, name="ml-1m")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 3)
    assert ds.name == "ml-1m"
    items = ds.items.set_index("item_id")
    assert items.loc["1193", "title"] == "One Flew Over the Cuckoo's Nest"
    assert items.loc["661", "genres"] == "Animation|Children's|Musical"
    assert items.loc["2", "title"] == "Amélie"
    assert items.loc["2", "year"] == 2001
    users = ds.users.set_index("user_id")
    assert users.loc["1", "occupation"] == "K-12 student"  # code 10
    assert users.loc["2", "occupation"] == "self-employed"  # code 16
    assert by_user_item(ds)[("2", "1193")] == (4.0, 1)


def test_ml10m_dat_joins_tags(tmp_path: Path) -> None:
    write(tmp_path / "ratings.dat", "1::122::5::838985046\n1::185::4.5::838983525\n")
    write(
        tmp_path / "movies.dat",
        "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action\n",
    )
    write(
        tmp_path / "tags.dat",
        "15::122::dark::1\n20::122::funny::2\n21::122::dark::3\n15::185::hackers::4\n",
    )
    ds = read_movielens_dat(tmp_path)
    items = ds.items.set_index("item_id")
    assert items.loc["122", "tags"] == "dark|funny"
    assert items.loc["185", "tags"] == "hackers"
    assert items.loc["185", "title"] == "Net, The"
    assert by_user_item(ds)[("1", "185")][0] == 4.5


def test_dat_wrong_field_count_names_line(ml1m: Path) -> None:
    write(ml1m / "ratings.dat", "1::1193::5::978300760\n\n1::661::3\n")
    with pytest.raises(DataError, match=r"ratings.dat, line 3: expected 4 fields, found 3"):
        read_movielens_dat(ml1m)


# ---- ml-20m / 25m / latest CSV --------------------------------------------------------------
@pytest.fixture
def mlcsv(tmp_path: Path) -> Path:
    write(
        tmp_path / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n6,1,2.5,1\n",
    )
    write(
        tmp_path / "movies.csv",
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
        '3,"American President, The (1995)",Comedy|Drama|Romance\n'
        "9,Nothing Listed (2015),(no genres listed)\n",
    )
    write(
        tmp_path / "tags.csv",
        "userId,movieId,tag,timestamp\n2,1,pixar,1\n3,1,fun,2\n4,1,pixar,3\n5,3,politics,4\n",
    )
    return tmp_path


def test_movielens_csv(mlcsv: Path) -> None:
    ds = read_movielens_csv(mlcsv)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 3)
    items = ds.items.set_index("item_id")
    assert items.loc["3", "title"] == "American President, The"
    assert items.loc["3", "year"] == 1995
    assert items.loc["1", "tags"] == "pixar|fun"
    assert items.loc["9", "genres"] == ""
    assert items.loc["9", "tags"] == ""
    assert by_user_item(ds)[("6", "1")] == (2.5, 1)


def test_movielens_csv_bad_value_line_counts_blank_lines(mlcsv: Path) -> None:
    # Line numbers are what an editor shows: header is line 1, the blank line counts.
    write(
        mlcsv / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n\n1,3,abc,964981247\n",
    )
    with pytest.raises(DataError) as info:
        read_movielens_csv(mlcsv)
    assert str(info.value).endswith(
        "ratings.csv, line 4, field 'rating': 'abc' is not a number; "
        "fix the value or skip bad lines (--on-bad-lines skip; on_bad_lines='skip' in Python)"
    )


def test_movielens_csv_empty_number_and_skip(mlcsv: Path) -> None:
    write(
        mlcsv / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,,964982703\n1,3,4.5,x\n1,1,4.0,5\n,1,3.0,7\n",
    )
    with pytest.raises(DataError, match=r"line 2, field 'rating': empty is not a number"):
        read_movielens_csv(mlcsv)
    ds = read_movielens_csv(mlcsv, on_bad_lines="skip")
    assert ds.n_interactions == 1
    assert ds.dropped.counts == {
        "ratings.csv: bad value in 'rating'": 1,
        "ratings.csv: bad value in 'timestamp'": 1,
        "missing user id": 1,
    }


def test_missing_column_is_named(mlcsv: Path) -> None:
    write(mlcsv / "ratings.csv", "userId,movie,rating,timestamp\n1,1,4.0,9\n")
    with pytest.raises(DataError, match=r"no column 'movieId' \(columns are: userId, movie,"):
        read_movielens_csv(mlcsv)


# ---- RecBole atomic -------------------------------------------------------------------------
@pytest.fixture
def atomic(tmp_path: Path) -> Path:
    d = tmp_path / "toy"
    d.mkdir()
    write(
        d / "toy.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n186\t302\t3\t891717742.5\n196\t302\t5\t881250950\n",
    )
    write(
        d / "toy.item",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery\n"
        "999\tunkonwn\tunkonwn\tunknown\n",
    )
    write(d / "toy.user", "user_id:token\tage:token\tgender:token\n196\t49\tM\n186\t39\tF\n")
    return d


def test_atomic_exposes_movielens_columns(atomic: Path) -> None:
    ds = read_atomic(atomic)
    assert ds.name == "toy"
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 3)
    assert ds.explicit
    items = ds.items.set_index("item_id")
    assert items.loc["302", "title"] == "L.A. Confidential"
    assert items.loc["302", "year"] == 1997
    assert items.loc["302", "genres"] == "Crime|Film-Noir|Mystery"
    assert items.loc["302", "movie_title"] == "L.A. Confidential"  # originals kept
    assert items["year"].isna().sum() == 1  # "unkonwn" year -> missing
    assert by_user_item(ds)[("186", "302")] == (3.0, 891717742)
    users = ds.users.set_index("user_id")
    assert users.loc["186", "gender"] == "F"
    assert users.loc["186", "age"] == 39  # a number, as in GroupLens' u.user


def test_atomic_from_inter_file_path(atomic: Path) -> None:
    assert read_atomic(atomic / "toy.inter").n_interactions == 3


def test_atomic_bad_header_type(atomic: Path) -> None:
    write(atomic / "toy.inter", "user_id:token\titem_id:tok\n1\t2\n")
    with pytest.raises(DataError, match=r"toy.inter, line 1: header column 'item_id:tok'"):
        read_atomic(atomic)


def test_atomic_bad_float_names_line_and_field(atomic: Path) -> None:
    write(
        atomic / "toy.inter",
        "user_id:token\titem_id:token\trating:float\n1\t2\t3\n1\t3\tfive\n",
    )
    with pytest.raises(DataError, match=r"line 3, field 'rating:float': 'five' is not a number"):
        read_atomic(atomic)
    ds = read_atomic(atomic, on_bad_lines="skip")
    assert ds.n_interactions == 1
    assert ds.dropped.counts == {"toy.inter: bad value in 'rating:float'": 1}
    assert np.array_equal(ds.values, [3.0])
