"""Data layer: readers, cleaning, splits, fetching and a synthetic generator.

Importing this package loads NumPy, pandas and pyarrow only (never torch). The fetcher is
`lmrec.data.fetch.fetch` (not re-exported here, so the module name stays the module).
"""

from lmrec.data.cleaning import clean, deduplicate, k_core, to_implicit
from lmrec.data.dataset import Dataset, DropReport, from_frame
from lmrec.data.idmap import IdMap
from lmrec.data.inspect import inspect_dataset
from lmrec.data.loading import detect_format, load_dataset
from lmrec.data.readers.generic import ColumnMap
from lmrec.data.splitters import (
    Split,
    cold_items_split,
    cold_users_split,
    leave_one_out,
    make_split,
    random_split,
    split_from_files,
    temporal_split,
)

__all__ = [
    "ColumnMap",
    "Dataset",
    "DropReport",
    "IdMap",
    "Split",
    "clean",
    "cold_items_split",
    "cold_users_split",
    "deduplicate",
    "detect_format",
    "from_frame",
    "inspect_dataset",
    "k_core",
    "leave_one_out",
    "load_dataset",
    "make_split",
    "random_split",
    "split_from_files",
    "temporal_split",
    "to_implicit",
]
