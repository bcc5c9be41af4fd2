"""SASRec: the shared contract plus what is special to a sequence model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch

from lmrec.core.query import Query
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError
from lmrec.models.artifacts import load_model
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract

from .sequence_toys import cycle_data, next_after, repeat_data, with_vectors

FAST = {"hidden": 16, "heads": 1, "n_layers": 1, "dropout": 0.0, "lr": 0.01, "threads": 1}


class TestSASRecContract(RecommenderContract):
    model_name = "sasrec"
    model_config: ClassVar[dict[str, Any]] = {**FAST, "epochs": 40, "max_len": 16}
    stochastic = True


@pytest.fixture(scope="module")
def cycle() -> Dataset:
    return cycle_data()


def test_learns_a_cycle(cycle: Dataset) -> None:
    model = create_model("sasrec", {**FAST, "epochs": 30}).fit(cycle)
    assert next_after(model, ["i0", "i1", "i2"]) == "i3"
    assert next_after(model, ["i3", "i4"]) == "i5"
    # the order matters: the same items in another order predict another item
    assert next_after(model, ["i2", "i1", "i0"]) != "i3"


def test_recency_bias_learns_a_cycle_and_can_attend_to_the_last_item_alone(
    cycle: Dataset,
) -> None:
    config = {**FAST, "epochs": 30, "recency_bias": True, "positions": False}
    model = create_model("sasrec", config).fit(cycle)
    # order comes from the causal mask and the recency penalty alone
    assert next_after(model, ["i0", "i1", "i2"]) == "i3"
    assert next_after(model, ["i2", "i1", "i0"]) != "i3"
    net = model.net_
    assert net.recency is not None
    with torch.no_grad():
        net.recency.fill_(50.0)  # every head: attend to the newest position only
    tokens = torch.tensor([[1, 2, 3, 4], [0, 0, 0, 4]])
    with torch.no_grad():
        states = net.eval()(tokens)
    # the last state now depends on the last item alone
    torch.testing.assert_close(states[0, -1], states[1, -1], atol=1e-4, rtol=0)
    with torch.no_grad():
        net.recency.fill_(-50.0)  # no penalty: earlier items matter again
        states = net(tokens)
    assert not torch.allclose(states[0, -1], states[1, -1], atol=1e-3)


def test_query_history_order_and_timestamps(cycle: Dataset) -> None:
    model = create_model("sasrec", {**FAST, "epochs": 30}).fit(cycle)
    assert model.recommend(Query(history=["i1", "i2", "i3"], k=1)).item_ids == ["i4"]
    # given timestamps, the history is put in time order first
    query = Query(history=["i3", "i1", "i2"], timestamps=[30, 10, 20], k=1)
    assert model.recommend(query).item_ids == ["i4"]
    with pytest.raises(ConfigError, match="timestamps"):
        model.recommend(Query(history=["i1", "i2"], timestamps=[1]))


def test_score_histories_orders_by_timestamps(cycle: Dataset) -> None:
    import scipy.sparse as sp

    model = create_model("sasrec", {**FAST, "epochs": 30}).fit(cycle)
    idx = model.item_map.lookup(["i4", "i5", "i0"])  # visited in this order
    rows = sp.csr_matrix((np.ones(3), ([0, 0, 0], idx)), shape=(1, model.n_items))
    times = sp.csr_matrix((np.array([1.0, 2.0, 3.0]), ([0, 0, 0], idx)), shape=rows.shape)
    scores = model.score_histories(rows, timestamps=times)
    np.testing.assert_allclose(scores, model.score_sequences([idx]), rtol=1e-5, atol=1e-6)
    assert model.item_map.ids[int(np.argmax(scores[0]))] == "i1"


def test_sampled_softmax_and_gbce_learn_the_cycle(cycle: Dataset) -> None:
    # binary losses give weaker gradients than a softmax: gBCE gets more epochs
    for extra in (
        {"loss": "sampled", "n_negatives": 3, "epochs": 40},
        {"loss": "sampled", "n_negatives": 3, "epochs": 40, "negatives": "mixed"},
        {"loss": "sampled", "n_negatives": 3, "gbce_t": 0.75, "epochs": 200},
        {"loss": "chunked", "ce_chunk": 4, "epochs": 40},
    ):
        model = create_model("sasrec", {**FAST, **extra}).fit(cycle)
        assert next_after(model, ["i0", "i1", "i2"]) == "i3", extra


@pytest.mark.parametrize(
    ("item_repr", "adaptor"), [("text", "linear"), ("fused", "linear"), ("text", "moe")]
)
def test_text_items_and_new_items_through_text(
    cycle: Dataset, item_repr: str, adaptor: str
) -> None:
    # "new-iK" never occurs in training but has the same vector ("text") as iK
    twins = {f"new-i{k}": f"i{k}" for k in range(6)}
    data = with_vectors(cycle, extra=twins)
    config = {
        **FAST,
        "epochs": 40,
        "item_repr": item_repr,
        "text_adaptor": adaptor,
        "text": {"vectors_column": "vec"},
    }
    model = create_model("sasrec", config).fit(data)
    assert next_after(model, ["i0", "i1", "i2"]) == "i3"
    history = model.item_map.lookup(["i0", "i1", "i2"])
    scores = model.score_sequences([history])[0]
    new = model.item_map.lookup(list(twins))
    assert np.isfinite(scores[new]).all()
    # among the new items, scored by their text alone, the twin of the right answer wins
    assert list(twins)[int(np.argmax(scores[new]))] == "new-i3"
    if item_repr == "text":  # same text, same vector, same score, but for the repeat offset
        old = model.item_map.lookup(list(twins.values()))
        offset = model.net_.items.repeat.item() * np.isin(old, history)
        np.testing.assert_allclose(scores[old], scores[new] + offset, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", ["ce", "sampled"])
def test_repeat_offset_learns_whether_users_return_to_items(loss: str) -> None:
    """Negative where nobody returns to an item, positive where everyone does; it applies
    to the whole history, also beyond the max_len items the network reads."""
    config = {**FAST, "epochs": 30, "loss": loss, "n_negatives": 8, "max_len": 4}
    films = create_model("sasrec", config).fit(repeat_data(repeats=False))
    assert films.net_.items.repeat.item() < -0.5
    groceries = create_model("sasrec", config).fit(repeat_data(repeats=True))
    assert groceries.net_.items.repeat.item() > 0.5
    long_ago = films.item_map.lookup(["i1", "i2", "i3", "i4", "i5", "i6", "i7"])
    with_it = films.score_sequences([long_ago])[0]
    without_it = films.score_sequences([long_ago[1:]])[0]  # same last 4 items read
    offset = films.net_.items.repeat.item()
    assert with_it[long_ago[0]] == pytest.approx(without_it[long_ago[0]] + offset, abs=1e-5)
    plain = create_model("sasrec", {**config, "repeat_bias": False})
    assert plain.fit(repeat_data(repeats=False)).net_.items.repeat is None


def test_id_model_cannot_score_an_item_never_seen(cycle: Dataset) -> None:
    data = with_vectors(cycle, extra={"new-i3": "i3"})
    model = create_model("sasrec", {**FAST, "epochs": 2}).fit(data)
    scores = model.score_sequences([np.array([0, 1])])[0]
    assert np.isnan(scores[model.item_map.index_of("new-i3")])
    assert np.isfinite(np.delete(scores, model.item_map.index_of("new-i3"))).all()


def test_text_needs_an_item_table(cycle: Dataset) -> None:
    with pytest.raises(ConfigError, match="item table"):
        create_model("sasrec", {**FAST, "epochs": 1, "item_repr": "text"}).fit(cycle)


def test_save_load_text_model(cycle: Dataset, tmp_path: Path) -> None:
    data = with_vectors(cycle)
    config = {**FAST, "epochs": 3, "item_repr": "fused", "fusion": "gate"}
    model = create_model("sasrec", {**config, "text": {"vectors_column": "vec"}}).fit(data)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", options=model.options)  # same threads
    users = np.arange(model.n_users)
    np.testing.assert_array_equal(loaded.score_users(users), model.score_users(users))
    assert loaded.sequences()[3].tolist() == model.sequences()[3].tolist()


def test_device_option(cycle: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    model = create_model("sasrec", {**FAST, "epochs": 1, "device": "cpu"}).fit(cycle)
    assert model.score_users(np.array([0])).shape == (1, model.n_items)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            create_model("sasrec", {**FAST, "epochs": 1, "device": "cuda"}).fit(cycle)
        monkeypatch.setenv("LMREC_DEVICE", "cuda")
        with pytest.raises(ConfigError, match=r"from \$LMREC_DEVICE"):
            create_model("sasrec", {**FAST, "epochs": 1}).fit(cycle)
    with pytest.raises(ConfigError, match="unknown device"):
        create_model("sasrec", {**FAST, "epochs": 1, "device": "tpu9"}).fit(cycle)


def test_hidden_must_divide_by_heads(cycle: Dataset) -> None:
    with pytest.raises(ConfigError, match="divisible"):
        create_model("sasrec", {**FAST, "epochs": 1, "hidden": 10, "heads": 3}).fit(cycle)


def test_evaluation_feeds_time_ordered_history() -> None:
    """evaluate(history=train+valid) must give a sequence model each user's items in time
    order (a user x item matrix would lose it): the cycle's next item is then a hit."""
    from lmrec.data.splitters import leave_one_out
    from lmrec.evaluation.runner import evaluate

    # a cycle longer than any user's walk, so the next item is never one already seen
    split = leave_one_out(cycle_data(n_users=60, n_items=12))
    model = create_model("sasrec", {**FAST, "epochs": 60}).fit(split.train, split.valid)
    history = split.train.concat(split.valid)
    result = evaluate(
        model, split.test, exclude=[split.train, split.valid], history=history, metrics=["hit@1"]
    )
    assert result.meta["scored_by"] == "score_sequences"
    assert result.summary()["hit@1"] == 1.0


def test_add_items_scores_new_items_through_text(cycle: Dataset, tmp_path: Path) -> None:
    from lmrec.models.capabilities import SupportsAddItems

    data = with_vectors(cycle)
    config = {**FAST, "epochs": 40, "item_repr": "text", "text": {"vectors_column": "vec"}}
    model = create_model("sasrec", config).fit(data)
    assert isinstance(model, SupportsAddItems)
    i3 = model.items.loc[model.item_map.index_of("i3"), "vec"]
    before = model.score_sequences([model.item_map.lookup(["i0", "i1", "i2"])])[0]
    added = model.add_items(pd.DataFrame({"item_id": ["late-i3"], "vec": [i3]}))
    assert added.added == ["late-i3"] and not added.without_text
    assert model.n_items == data.n_items + 1 and model.history_.shape[1] == model.n_items
    scores = model.score_sequences([model.item_map.lookup(["i0", "i1", "i2"])])[0]
    np.testing.assert_allclose(scores[:-1], before, rtol=1e-6)  # old items unchanged
    assert scores[-1] == pytest.approx(scores[model.item_map.index_of("i3")], rel=1e-6)
    recs = model.recommend(Query(history=["i0", "i1", "i2"], k=2))
    assert set(recs.item_ids) == {"i3", "late-i3"}
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m").score_users(np.arange(3)), model.score_users(np.arange(3))
    )


def test_id_model_adds_items_it_cannot_score(cycle: Dataset) -> None:
    model = create_model("sasrec", {**FAST, "epochs": 1}).fit(cycle)
    added = model.add_items(pd.DataFrame({"item_id": ["late"], "title": ["Late film"]}))
    assert added.without_text == ["late"]
    assert np.isnan(model.score_users(np.array([0]))[0, model.item_map.index_of("late")])
