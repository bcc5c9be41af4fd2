"""Tiny data with known answers and two small models for the service tests.

ToyMF scores by inner products of user and item factors (so it is served from an item
index); ToyText embeds titles by hashed words, searches text and takes new items.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.data.dataset import Dataset, from_frame
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.registry import register
from lmrec.serving.settings import ServeSettings

KEY = "test-key-0123456789abcdef"  # admin scope
AUTH = {"Authorization": f"Bearer {KEY}"}
READ_KEY = "read-key-0123456789abcdef"
READ_AUTH = {"Authorization": f"Bearer {READ_KEY}"}
WRITE_KEY = "write-key-0123456789abcdef"
WRITE_AUTH = {"Authorization": f"Bearer {WRITE_KEY}"}

ITEMS = pd.DataFrame(
    {
        "item_id": ["i1", "i2", "i3", "i4", "i5", "i6"],
        "title": [
            "funny family comedy",
            "romantic comedy in paris",
            "space action battle",
            "sad drama about war",
            "action comedy heist",
            "haunted house horror",
        ],
        "genre": ["Comedy|Drama", "Comedy", "Action", "Drama", "Action|Comedy", "Horror"],
    }
)
INTERACTIONS = [
    ("u1", "i1"), ("u1", "i2"), ("u1", "i3"),
    ("u2", "i1"), ("u2", "i2"), ("u2", "i4"),
    ("u3", "i1"), ("u3", "i5"),
    ("u4", "i2"), ("u4", "i3"), ("u4", "i6"),
]  # fmt: skip


def toy_dataset() -> Dataset:
    df = pd.DataFrame(INTERACTIONS, columns=["user_id", "item_id"])
    df["timestamp"] = np.arange(len(df))
    return from_frame(df, items=ITEMS, name="toy")


class ToyMFConfig(ModelConfig):
    factors: int = 3


class ToyMF(Recommender[ToyMFConfig]):
    """Truncated SVD of the binary matrix: scores are user_factors @ item_factors.T."""

    name = "toy-mf"
    state_attrs = ("user_factors_", "item_factors_")

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        u, s, vt = np.linalg.svd(train.binary_csr.toarray(), full_matrices=False)
        f = self.config.factors
        self.user_factors_ = (u[:, :f] * s[:f]).astype(np.float32)
        self.item_factors_ = vt[:f].T.astype(np.float32).copy()

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users]

    def item_factors(self) -> np.ndarray:
        return self.item_factors_


def hashed_words(texts: list[str], dim: int = 64) -> np.ndarray:
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", str(text).lower()):
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


class ToyText(Recommender[ModelConfig]):
    """Content model over hashed title words; folds in histories and adds items by text."""

    name = "toy-text"
    state_attrs = ("item_vectors_",)

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        assert train.items is not None
        self.item_vectors_ = hashed_words(train.items["title"].tolist())

    def item_vectors(self) -> np.ndarray:
        return self.item_vectors_

    def text_vectors(self) -> np.ndarray:
        return self.item_vectors_

    def encode_query(self, texts: list[str]) -> np.ndarray:
        return hashed_words(texts)

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        profile = histories @ self.item_vectors_
        return np.asarray(profile @ self.item_vectors_.T, dtype=np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return self.score_histories(self.history_[users])

    def add_items(self, items: pd.DataFrame) -> None:
        """Unknown ids are appended, known ones get their new text (as content models do)."""
        texts = items.get("title", items.get("text")).fillna("").astype(str).tolist()
        self.item_map = self.item_map.extend(items["item_id"].astype(str))
        n = len(self.item_map)
        vectors = np.zeros((n, self.item_vectors_.shape[1]), dtype=np.float32)
        vectors[: len(self.item_vectors_)] = self.item_vectors_
        vectors[self.item_map.lookup(items["item_id"])] = hashed_words(texts)
        self.item_vectors_ = vectors
        self.history_ = sp.csr_matrix(
            (self.history_.data, self.history_.indices, self.history_.indptr),
            shape=(self.history_.shape[0], n),
        )
        if self.items is not None:
            extra = items.rename(columns={"text": "title"}) if "title" not in items else items
            table = pd.concat([self.items, extra], ignore_index=True)
            table = table.drop_duplicates("item_id", keep="last").set_index("item_id")
            self.items = table.reindex(self.item_map.ids).reset_index()[self.items.columns]


register("toy-mf", f"{__name__}:ToyMF")
register("toy-text", f"{__name__}:ToyText")


def make_settings(registry: Path, db: str, **extra: object) -> ServeSettings:
    """Service settings for a test: this registry and database, the test keys (one of
    each scope), no polling."""
    values: dict[str, object] = {
        "home": registry.parent,
        "registry": registry,
        "db": db,
        "api_keys": [KEY],
        "write_keys": [WRITE_KEY],
        "read_keys": [READ_KEY],
        "default_model": "pop",
        "registry_poll_seconds": 0,
    }
    values.update(extra)
    return ServeSettings(**values)  # type: ignore[arg-type]
