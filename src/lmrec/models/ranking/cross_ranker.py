"""The `cross-encoder` ranker: a transformer reads the user's recent items and a candidate
together and scores how well the candidate follows them.

It starts from the bundled all-MiniLM-L6-v2 weights (the text encoder's offline model,
never a hub download) with a fresh one-logit head, and is trained with
sentence-transformers' CrossEncoder API on (query, candidate text) pairs: the query is the
titles of the user's `history` most recent items (the item text template lmrec uses
everywhere), joined most recent first.

A pair the model cannot read (a user with no recent item that has text, or a candidate
without text) keeps the retriever's order: `fill_in_retriever_order` places it right
after the scored candidate that precedes it in the retriever's list.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.core.threads import torch_threads
from lmrec.errors import ConfigError

#: separates the recent items of a query, most recent first
_JOIN = " | "


def recent_items(
    users: np.ndarray, items: np.ndarray, order: np.ndarray, n_users: int, n: int
) -> np.ndarray:
    """(n_users, n) each user's `n` latest items as index + 1, most recent first (0 =
    none), from interactions (users, items) and their time `order` (larger = later)."""
    out = np.zeros((n_users, n), dtype=np.int64)
    sort = np.lexsort((-np.arange(len(users)), -order, users))
    u = users[sort]
    counts = np.bincount(u, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    pos = np.arange(len(u)) - starts[u]
    keep = pos < n
    out[u[keep], pos[keep]] = items[sort][keep] + 1
    return out


def queries(recent: np.ndarray, texts: Sequence[str]) -> list[str]:
    """Per row of `recent` (item index + 1, 0 = none), the texts of its items that have
    text, joined; '' when none has."""
    out = []
    for row in recent:
        parts = [texts[i - 1] for i in row if i > 0 and texts[i - 1]]
        out.append(_JOIN.join(parts))
    return out


def fill_in_retriever_order(grid: np.ndarray) -> np.ndarray:
    """(n, c) candidate logits in retriever order, NaN where the ranker could not read the
    pair: each NaN takes the score of the last read candidate before it, a little lower
    (so it stays right after it), or, before any, a little above the row's best; a row
    with nothing read is ordered by rank alone."""
    n, c = grid.shape
    out = grid.astype(np.float64)
    read = np.isfinite(out)
    step = 1e-4 * (np.arange(c)[None, :] + 1)
    last = np.where(read, np.arange(c)[None, :], -1)
    last = np.maximum.accumulate(last, axis=1)
    rows = np.arange(n)[:, None]
    before = np.where(last >= 0, out[rows, np.maximum(last, 0)], np.nan)
    with np.errstate(all="ignore"):
        top = np.where(read.any(axis=1), np.nanmax(np.where(read, out, -np.inf), axis=1), 0.0)
    lead = top[:, None] + 1.0 - step  # unread items ahead of every read one
    filled = np.where(last >= 0, before - step, lead)
    return np.where(read, out, filled).astype(np.float32)


class CrossRanker:
    """A sentence-transformers CrossEncoder with one logit, on the CPU unless told."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def from_minilm(cls, max_tokens: int, device: str) -> CrossRanker:
        from lmrec.encoders.base import resolve_model
        from lmrec.encoders.config import EncoderConfig

        source = resolve_model(EncoderConfig())
        return cls(_cross_encoder(source.location, device, max_tokens))

    @classmethod
    def load(cls, path: Path, device: str) -> CrossRanker:
        return cls(_cross_encoder(str(path), device, None))

    def save(self, path: Path) -> None:
        with _quiet():
            self.model.save(str(path))

    def fit(
        self,
        pairs: list[tuple[str, str]],
        labels: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        lr: float,
        seed: int,
        threads: int | None,
    ) -> None:
        try:
            import datasets
            from sentence_transformers.cross_encoder import (
                CrossEncoderTrainer,
                CrossEncoderTrainingArguments,
            )
        except ImportError as exc:
            raise ConfigError(
                f"training the cross-encoder ranker needs sentence-transformers >= 4 and "
                f"datasets ({exc}): pip install -U 'lmrec[text]'"
            ) from None
        from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
        from transformers.trainer_callback import PrinterCallback

        data = datasets.Dataset.from_dict(
            {
                "query": [q for q, _ in pairs],
                "item": [t for _, t in pairs],
                "label": [float(v) for v in labels],
            }
        )
        with tempfile.TemporaryDirectory() as scratch, torch_threads(threads):
            args = CrossEncoderTrainingArguments(
                output_dir=scratch,
                num_train_epochs=epochs,
                per_device_train_batch_size=batch_size,
                learning_rate=lr,
                seed=seed,
                report_to="none",
                save_strategy="no",
                logging_strategy="no",
                disable_tqdm=True,
                dataloader_num_workers=0,
                use_cpu=str(self.model.device) == "cpu",
            )
            loss = BinaryCrossEntropyLoss(self.model)
            trainer = CrossEncoderTrainer(
                model=self.model, args=args, train_dataset=data, loss=loss
            )
            trainer.remove_callback(PrinterCallback)  # lmrec reports progress itself
            trainer.train()
            # read back as a saved model is, so the fitted ranker scores exactly as the
            # one loaded from its artifact later
            device = str(self.model.device)
            self.save(Path(scratch) / "trained")
            self.model = _cross_encoder(str(Path(scratch) / "trained"), device, None)

    def logits(
        self, pairs: list[tuple[str, str]], batch_size: int, threads: int | None
    ) -> np.ndarray:
        """(len(pairs),) the raw logit of each pair, scored `batch_size` at a time."""
        import torch

        if not pairs:
            return np.zeros(0, dtype=np.float32)
        with torch_threads(threads):
            out = self.model.predict(
                pairs,
                batch_size=batch_size,
                activation_fn=torch.nn.Identity(),
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.asarray(out, dtype=np.float32).reshape(len(pairs))


def _cross_encoder(location: str, device: str, max_tokens: int | None) -> Any:
    try:
        from sentence_transformers.cross_encoder import CrossEncoder
    except ImportError as exc:
        raise ConfigError(
            f"the cross-encoder ranker needs the text extra ({exc.name} is missing): "
            "pip install 'lmrec[text]', or use ranker=ctr"
        ) from None
    kwargs: dict[str, Any] = {"num_labels": 1} if max_tokens is not None else {}
    if max_tokens is not None:
        kwargs["max_length"] = max_tokens
    with _quiet():
        return CrossEncoder(location, device=device, local_files_only=True, **kwargs)


@contextmanager
def _quiet() -> Iterator[None]:
    """Transformers' loading and writing bars, the fresh head's "newly initialised" report
    and sentence-transformers' note that it converts a bi-encoder directory, silenced:
    they would land in the output of commands such as `recommend --json`."""
    from transformers.utils import logging as hf_logging

    st_logger = logging.getLogger("sentence_transformers")
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    st_level = st_logger.level
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    st_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        st_logger.setLevel(st_level)
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def fallback_notes(has_history: bool, item_has_text: bool) -> list[str]:
    """What the cross-encoder could not read for this pair, in words for an explanation."""
    notes = []
    if not has_history:
        notes.append("no recent items with text: kept in the retriever's order")
    if not item_has_text:
        notes.append("no text for this item: kept at its place in the retriever's order")
    return notes
