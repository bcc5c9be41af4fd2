"""The mixture-of-whitening adaptor over frozen text embeddings."""

from __future__ import annotations

import torch

from lmrec.models.neural.text_adaptor import MoEWhitening, text_adaptor


def test_shapes_and_a_uniform_gate_at_start() -> None:
    torch.manual_seed(0)
    moe = MoEWhitening(text_dim=6, dim=4, experts=3).eval()
    x = torch.randn(2, 5, 6)
    out = moe(x)
    assert out.shape == (2, 5, 4)
    # the gate starts at zero: the output is the plain mean of the experts
    experts = torch.einsum("...kt,ktd->...kd", x.unsqueeze(-2) - moe.shift, moe.weight)
    torch.testing.assert_close(out, experts.mean(dim=-2))


def test_experts_learn_to_read_kinds_of_items_apart() -> None:
    """Two kinds of input need opposite maps; a single linear map cannot fit both, the
    gated mixture can."""
    torch.manual_seed(0)
    kind = torch.randint(0, 2, (256,))
    x = torch.randn(256, 4) * 0.1 + torch.where(kind[:, None] == 0, 3.0, -3.0)
    target = torch.where(kind[:, None] == 0, x[:, :2], -x[:, 2:4] * 5)
    losses = {}
    for name in ("linear", "moe"):
        model = text_adaptor(name, 4, 2, experts=2)  # type: ignore[arg-type]
        if isinstance(model, MoEWhitening):
            model.dropout.p = 0.0
        opt = torch.optim.Adam(model.parameters(), lr=0.03)
        for _ in range(600):
            opt.zero_grad()
            loss = ((model(x) - target) ** 2).mean()
            loss.backward()
            opt.step()
        losses[name] = float(loss.detach())
    assert losses["moe"] < 0.5 * losses["linear"]
