"""Large-catalogue losses: exact chunked cross-entropy and corrected sampled softmax."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lmrec.training.catalogue_losses import NegativeSampler, chunked_cross_entropy
from lmrec.training.sequence_task import SequenceTask, sequence_windows


def test_chunked_equals_full_cross_entropy_with_its_gradients() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(37, 8, requires_grad=True)
    table = torch.randn(101, 8, requires_grad=True)
    targets = torch.randint(0, 101, (37,))
    extra = torch.randn(37, 101)
    full = F.cross_entropy(hidden @ table.T + extra, targets)
    full.backward()
    grads = hidden.grad.clone(), table.grad.clone()  # type: ignore[union-attr]
    hidden.grad = table.grad = None
    chunked = chunked_cross_entropy(
        hidden,
        table,
        targets,
        chunk_offset=lambda start, stop: extra[:, start:stop],
        target_offset=extra[torch.arange(37), targets],
        chunk=16,
    )
    chunked.backward()
    torch.testing.assert_close(chunked, full)
    torch.testing.assert_close(hidden.grad, grads[0])
    torch.testing.assert_close(table.grad, grads[1])


class TinyNet(torch.nn.Module):
    """Embedding lookup as the 'network', with a repeat offset like the real items."""

    def __init__(self, n_items: int) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(n_items + 1, 6)
        self.repeat_raw = torch.nn.Parameter(torch.tensor(0.3))
        outer = self

        class Items(torch.nn.Module):
            repeat = property(lambda _self: outer.repeat_raw * 2)

            def forward(self, tokens: torch.Tensor) -> torch.Tensor:
                return outer.emb(tokens)

            def all_items(self) -> torch.Tensor:
                return outer.emb.weight[1:]

        self.items = Items()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.emb(tokens).cumsum(dim=1)


def test_chunked_task_loss_is_the_full_one_with_the_repeat_offset() -> None:
    torch.manual_seed(1)
    n_items = 40
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, n_items, rng.integers(3, 12)) for _ in range(30)]
    windows = sequence_windows(seqs, 9)
    net = TinyNet(n_items)
    device = torch.device("cpu")
    full = SequenceTask(net, windows, n_items, 16, device, loss="ce")
    chunked = SequenceTask(net, windows, n_items, 16, device, loss="chunked", chunk=7)
    batch = next(iter(full.batches(np.random.default_rng(3))))
    torch.testing.assert_close(chunked.loss(batch), full.loss(batch))


def test_sampler_draws_by_its_distribution_and_knows_the_chances() -> None:
    counts = np.array([1000, 100, 10, 0])
    rng = np.random.default_rng(0)
    popular = NegativeSampler(counts, "popularity")
    drawn = np.bincount(popular.draw(rng, 20_000), minlength=4) / 20_000
    np.testing.assert_allclose(drawn, popular.probs, atol=0.01)
    assert drawn[3] == 0 and popular.probs[0] > popular.probs[1] > popular.probs[2]
    mixed = NegativeSampler(counts, "mixed")
    assert mixed.probs[3] == 0.125  # half of the uniform quarter
    logq = mixed.logq(torch.tensor([0, 3]))
    torch.testing.assert_close(
        logq, torch.log(torch.tensor(mixed.probs[[0, 3]], dtype=torch.float32))
    )
    uniform = NegativeSampler(counts, "uniform")
    assert set(uniform.draw(rng, 1000)) == {0, 1, 2, 3}
