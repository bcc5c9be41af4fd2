"""Next-item training for sequence networks (SASRec, GRU4Rec): every position of a
user's sequence predicts the item that follows it.

Sequences are cut into left-padded windows of max_len + 1 tokens (token 0 is padding,
token i + 1 is item i); a sequence longer than that becomes several windows that share
one item, so every transition is trained exactly once per epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from lmrec.training.catalogue_losses import (
    DEFAULT_CHUNK,
    Negatives,
    NegativeSampler,
    chunked_cross_entropy,
)
from lmrec.training.losses import (
    gbce,
    gbce_beta,
    sampled_logits,
    sampled_softmax_ce,
)


class ItemTable(Protocol):
    """What training needs of a network's item representation."""

    @property
    def repeat(self) -> torch.Tensor | None:
        """The learned score offset for items already in the sequence (or None)."""
        ...

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor: ...

    def all_items(self) -> torch.Tensor: ...


class SequenceNet(Protocol):
    @property
    def items(self) -> ItemTable: ...

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor: ...


def sequence_windows(sequences: list[np.ndarray], width: int) -> np.ndarray:
    """Left-padded token windows (n_windows, width) covering every transition once."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences] + [np.zeros(0, int)])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    step = width - 1
    n_windows = np.where(lengths >= 2, -(-(lengths - 1) // step), 0)
    owner = np.repeat(np.arange(len(lengths)), n_windows)
    # k-th window (from the end) of a sequence ends k * step items before its end
    k = np.arange(n_windows.sum()) - np.repeat(np.cumsum(n_windows) - n_windows, n_windows)
    end = starts[owner] + lengths[owner] - k * step  # exclusive
    first = np.maximum(end - width, starts[owner])
    pos = end[:, None] - width + np.arange(width)[None, :]
    valid = pos >= first[:, None]
    return np.where(valid, flat[np.clip(pos, 0, None)] + 1, 0)


def prefix_tokens(inputs: torch.Tensor) -> torch.Tensor:
    """(B, L) tokens -> (B, L, L): row [b, t] holds the tokens at positions 0..t of
    sequence b and 0 after t, i.e. what position t has read."""
    length = inputs.shape[1]
    upto = torch.ones(length, length, dtype=torch.bool, device=inputs.device).tril()
    return inputs[:, None, :] * upto[None]


@dataclass
class SequenceBatch:
    inputs: torch.Tensor  # (B, L) tokens
    targets: torch.Tensor  # (B, L) tokens, 0 where there is nothing to predict
    negatives: torch.Tensor | None  # (K,) item indices shared by the batch


class SequenceTask:
    """Batches and loss of next-item training; the network only maps tokens to states."""

    def __init__(
        self,
        net: SequenceNet,
        windows: np.ndarray,
        n_items: int,
        batch_size: int,
        device: torch.device,
        loss: Literal["ce", "chunked", "sampled"] = "ce",
        n_negatives: int = 256,
        gbce_t: float | None = None,
        validate: Callable[[], float | None] = lambda: None,
        bucket: bool = True,
        negatives: Negatives = "uniform",
        logq: bool = True,
        chunk: int = DEFAULT_CHUNK,
        teacher: Teacher | None = None,
    ) -> None:
        self.net, self.windows, self.n_items = net, windows, n_items
        #: soft targets besides the data (loss "ce" only)
        self.teacher = teacher
        self.batch_size, self.device, self.kind = batch_size, device, loss
        self.n_negatives = max(1, min(n_negatives, n_items - 1))
        # how often each item is a target: what popularity sampling draws by
        counts = np.bincount(np.clip(windows[:, 1:].ravel() - 1, 0, None), minlength=n_items)
        counts[0] -= int(np.count_nonzero(windows[:, 1:] == 0))  # padding is not item 0
        self.sampler = NegativeSampler(counts[:n_items], negatives)
        self.logq = logq and negatives != "uniform"  # uniform: a constant, no effect
        self.chunk = chunk
        self.beta = None if gbce_t is None else gbce_beta(self.n_negatives, n_items, gbce_t)
        self._validate = validate
        self.bucket = bucket
        self.lengths = (windows[:, :-1] > 0).sum(axis=1)

    def _batch_rows(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Row indices per batch. With bucketing, rows of similar length share a batch
        (sorted on log-length plus noise, so batches differ from epoch to epoch) and the
        batches come in random order: far less padding to compute on."""
        n, size = len(self.windows), self.batch_size
        if not self.bucket:
            order = rng.permutation(n)
            return [order[i : i + size] for i in range(0, n, size)]
        key = np.log(np.maximum(self.lengths, 1)) + rng.uniform(0.0, 0.5, n)
        order = np.argsort(key, kind="stable")
        batches = [order[i : i + size] for i in range(0, n, size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def batches(self, rng: np.random.Generator) -> Iterator[SequenceBatch]:
        for picked in self._batch_rows(rng):
            rows = self.windows[picked]
            inputs = rows[:, :-1]
            # a target counts only when there is an item before it to predict from
            targets = np.where(inputs > 0, rows[:, 1:], 0)
            # Drop leading columns that are padding in every row: the networks give
            # the same states for real positions, and short batches run faster.
            used = np.flatnonzero((inputs > 0).any(axis=0))
            first = int(used[0]) if len(used) else inputs.shape[1] - 1
            negatives = None
            if self.kind == "sampled":
                drawn = self.sampler.draw(rng, self.n_negatives)
                negatives = torch.from_numpy(drawn).to(self.device)
            yield SequenceBatch(
                torch.from_numpy(np.ascontiguousarray(inputs[:, first:])).to(self.device),
                torch.from_numpy(np.ascontiguousarray(targets[:, first:])).to(self.device),
                negatives,
            )

    def loss(self, batch: SequenceBatch) -> torch.Tensor:
        states = self.net(batch.inputs)
        where = batch.targets > 0
        hidden = states[where]
        target_tokens = batch.targets[where]
        items = self.net.items
        repeat = items.repeat
        # tokens each predicting position has read so far (0 = nothing), (N, L)
        read = prefix_tokens(batch.inputs)[where] if repeat is not None else None
        if self.kind == "chunked":
            table = items.all_items()
            chunk_offset = target_offset = None
            if read is not None and repeat is not None:
                chunk_offset = _seen_offset(read, repeat)
                target_offset = repeat * (read == target_tokens[:, None]).any(dim=1)
            return chunked_cross_entropy(
                hidden, table, target_tokens - 1, chunk_offset, target_offset, self.chunk
            )
        if batch.negatives is None:
            logits = full_logits(self.net, hidden, read)
            ce = F.cross_entropy(logits, target_tokens - 1)
            if self.teacher is None:
                return ce
            return self.teacher.blend(ce, logits, batch.inputs, where, read)
        pos, neg = sampled_logits(
            hidden,
            items(target_tokens),
            items(batch.negatives + 1),
            target_tokens - 1,
            batch.negatives,
        )
        if read is not None and repeat is not None:
            pos = pos + repeat * (read == target_tokens[:, None]).any(dim=1)
            seen_neg = (read[:, :, None] == (batch.negatives + 1)[None, None, :]).any(dim=1)
            neg = neg + repeat * seen_neg
        if self.logq:  # undo the sampling's bias toward the items it draws more often
            pos = pos - self.sampler.logq(target_tokens - 1)
            neg = neg - self.sampler.logq(batch.negatives)[None, :]
        if self.beta is None:
            return sampled_softmax_ce(pos, neg)
        return gbce(pos, neg, self.beta)

    def validate(self) -> float | None:
        return self._validate()


def full_logits(net: SequenceNet, hidden: torch.Tensor, read: torch.Tensor | None) -> torch.Tensor:
    """Scores (N, n_items) of N states over every item, with the repeat offset on the
    items each position has read (`read`: prefix tokens, (N, L))."""
    items = net.items
    logits = hidden @ items.all_items().T
    repeat = items.repeat
    if read is not None and repeat is not None:
        seen = torch.zeros(logits.shape[0], logits.shape[1] + 1, device=logits.device)
        seen = seen.scatter_(1, read, 1.0)[:, 1:]
        logits = logits + repeat * seen
    return logits


class Teacher:
    """Soft targets for knowledge distillation (Hinton et al., 2015): a trained
    network's next-item distribution at every position, softened by `temperature`, which
    the student's follows (KL divergence) with weight `weight`, the data's CE the rest.
    With `top`, both distributions are taken over the teacher's `top` best items only
    (each renormalised there): the student learns the order of the candidates a short
    list is made of instead of matching the long tail of the catalogue."""

    def __init__(
        self, net: SequenceNet, weight: float, temperature: float, top: int | None = None
    ) -> None:
        self.net, self.weight, self.temperature, self.top = net, weight, temperature, top

    def blend(
        self,
        ce: torch.Tensor,
        student_logits: torch.Tensor,
        inputs: torch.Tensor,
        where: torch.Tensor,
        read: torch.Tensor | None,
    ) -> torch.Tensor:
        with torch.no_grad():
            states = self.net(inputs)[where]
            if read is None and self.net.items.repeat is not None:
                read = prefix_tokens(inputs)[where]
            teacher_logits = full_logits(self.net, states, read)
            top = None
            if self.top is not None and self.top < teacher_logits.shape[1]:
                teacher_logits, top = teacher_logits.topk(self.top, dim=-1)
            soft = F.softmax(teacher_logits / self.temperature, dim=-1)
        if top is not None:
            student_logits = student_logits.gather(1, top)
        log_student = F.log_softmax(student_logits / self.temperature, dim=-1)
        # T^2 keeps the soft term's gradients on the scale of the hard one's
        kl = F.kl_div(log_student, soft, reduction="batchmean") * self.temperature**2
        return (1 - self.weight) * ce + self.weight * kl


def _seen_offset(read: torch.Tensor, repeat: torch.Tensor) -> Callable[[int, int], torch.Tensor]:
    """(positions x items start..stop): `repeat` where the position has read the item."""

    def offset(start: int, stop: int) -> torch.Tensor:
        local = read - 1 - start  # token t is item t - 1; padding falls outside
        width = stop - start
        inside = (local >= 0) & (local < width)
        seen = torch.zeros(read.shape[0], width + 1, device=read.device)
        seen.scatter_(1, torch.where(inside, local, torch.full_like(local, width)), 1.0)
        return repeat * seen[:, :-1]

    return offset
