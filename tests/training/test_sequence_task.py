"""Windows, batches and validation metrics of the sequence training task."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
import torch

from lmrec.core.sequences import left_pad
from lmrec.core.validation import ndcg_at_k
from lmrec.models.neural.item_repr import ItemRepresentation
from lmrec.training.sequence_task import SequenceTask, sequence_windows


def test_windows_cover_every_transition_once() -> None:
    seqs = [np.array([0, 1, 2, 3, 4, 5, 6]), np.array([7]), np.array([8, 9])]
    windows = sequence_windows(seqs, width=4)  # tokens are item + 1, 0 pads
    assert windows.tolist() == [[4, 5, 6, 7], [1, 2, 3, 4], [0, 0, 9, 10]]
    transitions = {(int(a), int(b)) for w in windows for a, b in itertools.pairwise(w) if a > 0}
    assert transitions == {(k, k + 1) for k in range(1, 7)} | {(9, 10)}


def test_left_pad_keeps_the_newest_items() -> None:
    out = left_pad([np.array([3, 4, 5]), np.array([], dtype=np.int64), np.array([1])], max_len=2)
    assert out.tolist() == [[5, 6], [0, 0], [0, 2]]


def test_batches_mask_targets_without_input() -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = ItemRepresentation(10, 4)

    windows = sequence_windows([np.array([0, 1, 2]), np.array([3, 4, 5, 6, 7])], width=6)
    task = SequenceTask(Net(), windows, 10, batch_size=8, device=torch.device("cpu"))
    (batch,) = list(task.batches(np.random.default_rng(0)))
    # no target where the input is padding; leading all-padding columns are cut
    assert ((batch.targets > 0) <= (batch.inputs > 0)).all()
    assert (batch.inputs[:, 0] > 0).any()
    assert int((batch.targets > 0).sum()) == 2 + 4


def test_ndcg_at_k_known_values() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))
    targets = sp.csr_matrix(np.array([[0, 0, 1, 0], [1, 0, 0, 0]]))
    users = np.array([0, 1])
    # user 0: item 0 is seen, so item 2 ranks 2nd -> 1/log2(3); user 1: item 0 ranks 4th
    value = ndcg_at_k(lambda u: scores[u], users, seen, targets, k=3)
    assert value == np.float64((1 / np.log2(3) + 0.0) / 2)
    assert ndcg_at_k(lambda u: scores[u], users, seen, targets, k=4) == (
        (1 / np.log2(3) + 1 / np.log2(5)) / 2
    )
