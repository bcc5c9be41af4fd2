"""Private training (DP-SGD, one user as the unit): the per-user gradients are each
user's own, each is clipped before the sum, and the budget asked for is what is spent
and recorded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.errors import ConfigError
from lmrec.models.neural.hybrid_net import HybridNet
from lmrec.models.neural.hybrid_private import HybridUserTask
from lmrec.models.registry import create_model
from lmrec.testing import toy
from lmrec.training.private import (
    PrivacyConfig,
    _clip_and_add,
    _per_user_gradients,
    noise_for,
)


def small_task(seed: int = 0) -> tuple[HybridNet, HybridUserTask]:
    rng = np.random.default_rng(seed)
    data = toy.blocks()
    text = rng.normal(size=(data.train.n_items, 12)).astype(np.float32)
    net = HybridNet(
        data.train.n_users, text, np.ones(data.train.n_items, bool), None,
        factors=4, text_hidden=0, id_dropout=0.3,
    )  # fmt: skip
    task = HybridUserTask(
        net, data.train.binary_csr, per_user=3, reg=0.05, id_dropout=0.3,
        device=torch.device("cpu"), validate=lambda: None,
    )  # fmt: skip
    return net, task


def test_each_users_gradient_is_their_own() -> None:
    """The vmapped gradients equal autograd of each user's loss taken alone."""
    net, task = small_task()
    rng = np.random.default_rng(1)
    users = np.array([0, 5, 11])
    example = task.examples(users, rng)
    inputs = task.step_inputs(rng)
    shared = {n: p.detach() for n, p in net.named_parameters() if n != task.local}
    own = net.user.weight.detach()[torch.from_numpy(users)]
    grads, own_grads, losses = _per_user_gradients(task, True)(shared, own, inputs, example)
    assert own_grads is not None
    for row in range(len(users)):
        params = {n: p.clone().requires_grad_(True) for n, p in shared.items()}
        mine = own[row].clone().requires_grad_(True)
        loss = task.user_loss(params, mine, inputs, *(t[row] for t in example))
        names = list(params)
        expected = torch.autograd.grad(loss, [params[n] for n in names] + [mine])
        assert float(loss.detach()) == pytest.approx(float(losses[row]), rel=1e-5)
        for name, g in zip(names, expected[:-1], strict=True):
            torch.testing.assert_close(grads[name][row], g, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(own_grads[row], expected[-1], rtol=1e-4, atol=1e-6)
    # a user's example reads at most per_user of their items
    assert example[1].sum(dim=1).max() <= 3


def test_every_users_gradient_is_clipped_before_the_sum() -> None:
    grads = {
        "a": torch.tensor([[3.0, 0.0], [0.1, 0.0]]),
        "b": torch.tensor([[[4.0]], [[0.0]]]),
    }
    into = {"a": torch.zeros(2), "b": torch.zeros(1, 1)}
    _clip_and_add(grads, 1.0, into)
    # user 0 (length 5) is scaled to length 1; user 1 (length 0.1) is left as it is
    torch.testing.assert_close(into["a"], torch.tensor([0.6 + 0.1, 0.0]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(into["b"], torch.tensor([[0.8]]), rtol=1e-5, atol=1e-6)


def test_noise_grows_as_the_budget_shrinks() -> None:
    sigmas = [noise_for(PrivacyConfig(epsilon=e), 1000, 10)[0] for e in (1.0, 3.0, 8.0)]
    assert sigmas[0] > sigmas[1] > sigmas[2] > 0
    _, delta, rate, steps = noise_for(PrivacyConfig(epsilon=3.0, users_per_step=250), 1000, 10)
    assert delta == pytest.approx(1e-3) and rate == 0.25 and steps == 40


@pytest.mark.parametrize("epsilon", [1.0, 4.0])
def test_a_private_fit_spends_its_budget_and_says_so(epsilon: float) -> None:
    data = toy.blocks()
    model = create_model("hybrid", {
        "epochs": 2, "factors": 8, "threads": 1,
        "privacy.epsilon": epsilon, "privacy.users_per_step": 8,
    }).fit(data.train)  # fmt: skip
    spent = model.privacy_
    assert spent is not None
    assert spent["epsilon"] <= epsilon * 1.01 and spent["epsilon"] >= epsilon * 0.9
    assert spent["delta"] == pytest.approx(1 / data.train.n_users)
    assert spent["unit"] == "user" and spent["accountant"] == "rdp"
    assert spent["steps"] == round(2 * data.train.n_users / 8)
    assert "user-level (joint) differential privacy" in spent["guarantee"]
    assert len(model.recommend(next(iter(data.held_out)), k=3)) == 3


def test_private_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"privacy\.epsilon"):
        create_model("hybrid", {"privacy.epsilon": 0})
    with pytest.raises(ConfigError, match="softmax over all items"):
        create_model("hybrid", {"privacy.epsilon": 3, "loss": "bpr"})
    with pytest.raises(ConfigError, match=r"privacy\.per_user"):
        create_model("hybrid", {"privacy.epsilon": 3, "privacy.per_user": 0})
    with pytest.raises(ConfigError, match="unknown key 'privacy'"):
        create_model("ease", {"privacy.epsilon": 3})


def test_sasrec_trains_privately_with_no_per_user_parameter() -> None:
    data = toy.blocks()
    model = create_model("sasrec", {
        "epochs": 2, "threads": 1, "max_len": 10,
        "privacy.epsilon": 3, "privacy.users_per_step": 8, "privacy.per_user": 6,
    }).fit(data.train)  # fmt: skip
    spent = model.privacy_
    assert spent is not None and 2.7 <= spent["epsilon"] <= 3.03 and spent["per_user"] == 6
    assert model.has_id_ is not None and model.has_id_.all()  # no data-dependent item set
    assert len(model.recommend(next(iter(data.held_out)), k=3)) == 3


def test_sasrec_windows_hold_at_most_per_user_predictions() -> None:
    from lmrec.models.sequence.private_task import SequenceUserTask

    data = toy.blocks()
    model = create_model("sasrec", {"epochs": 1, "max_len": 10})
    model._prepare(data.train)
    net = model._build(data.train, torch.device("cpu"))
    task = SequenceUserTask(net, model.sequences(), data.train.n_items, per_user=4,
                            device=torch.device("cpu"), validate=lambda: None)  # fmt: skip
    inputs, targets = task.examples(np.arange(task.n_users), np.random.default_rng(0))
    assert inputs.shape == (task.n_users, 4) and int((targets > 0).sum(1).max()) <= 4
    # a user's last items, in order: the last target is the newest item
    newest = np.array([s[-1] + 1 for s in model.sequences()])
    assert np.array_equal(targets[:, -1].numpy(), newest)
