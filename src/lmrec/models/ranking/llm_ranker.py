"""The `llm` ranker: a small instruct language model (SmolLM2-135M-Instruct, the `llm`
extra) reads the titles of the user's recent items and scores each candidate by how
likely its title is as the answer.

Nothing is trained: the prompt names the user's `llm_history` most recent titles, most
recent first, in the model's chat template, and a candidate's score is the mean (or
sum) log-probability of its title's tokens after it. The prompt runs once per user and
its key/value cache is shared by batches of candidates (lmrec.encoders.small_lm), and
every (prompt, title) score is cached for the life of the process, so scoring the same
user again costs nothing.

What it cannot read keeps the retriever's order (cross_ranker.fill_in_retriever_order):
a user without a recent titled item, a candidate without a title.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from lmrec.encoders.small_lm import SmallLM

SYSTEM = "You recommend items to people from what they chose recently."
#: the recent titles joined into the prompt, most recent first
_JOIN = "; "


def prompt_text(history_titles: Sequence[str]) -> str:
    """The user turn: the recent titles and the question the candidate title answers."""
    return (
        f"I recently chose, most recent first: {_JOIN.join(history_titles)}. "
        "Name one more title I will like. Answer with the title only."
    )


class LlmRanker:
    """Scores candidate titles for one user's recent titles with a shared SmallLM."""

    def __init__(
        self,
        lm: SmallLM,
        *,
        batch_size: int,
        threads: int | None,
        score: Literal["mean", "sum"] = "mean",
    ) -> None:
        self.lm = lm
        self.batch_size = batch_size
        self.threads = threads
        self.score = score

    def scores(self, history_titles: Sequence[str], titles: Sequence[str]) -> np.ndarray:
        """(len(titles),) the score of each title after the user's recent titles."""
        if not titles:
            return np.zeros(0, dtype=np.float32)
        prompt = self.lm.chat_prompt(SYSTEM, prompt_text(history_titles))
        sums, counts = self.lm.continuation_logprobs(
            prompt, titles, batch_size=self.batch_size, threads=self.threads
        )
        if self.score == "sum":
            return sums.astype(np.float32)
        return (sums / np.maximum(counts, 1)).astype(np.float32)


def row_z(grid: np.ndarray) -> np.ndarray:
    """Each row z-scored over its finite entries (NaN stays NaN; a constant row is 0)."""
    out = np.asarray(grid, dtype=np.float64)
    finite = np.isfinite(out)
    n = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    mean = np.where(finite, out, 0.0).sum(axis=1, keepdims=True) / n
    spread = np.sqrt(np.where(finite, (out - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / n)
    z = (out - mean) / np.where(spread > 0, spread, 1.0)
    return np.where(finite, z, np.nan).astype(np.float32)


def fallback_notes(has_history: bool, item_has_title: bool) -> list[str]:
    """What the llm ranker could not read for this pair, in words for an explanation."""
    notes = []
    if not has_history:
        notes.append("no recent items with a title: kept in the retriever's order")
    if not item_has_title:
        notes.append("no title for this item: kept at its place in the retriever's order")
    return notes
