"""Readers for MovieLens (GroupLens layouts), RecBole atomic files and generic logs."""

from lmrec.data.readers.generic import ColumnMap, read_generic
from lmrec.data.readers.movielens import read_ml100k, read_movielens_csv, read_movielens_dat
from lmrec.data.readers.recbole import read_atomic

__all__ = [
    "ColumnMap",
    "read_atomic",
    "read_generic",
    "read_ml100k",
    "read_movielens_csv",
    "read_movielens_dat",
]
