from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import Dataset
from lmrec.data.idmap import IdMap
from lmrec.errors import ConfigError
from lmrec.evaluation.tuning import grid_points, select_config, tune


def _split() -> tuple[Dataset, Dataset]:
    """Items a, b, c. In training a and c have three users with value 1 each, b one user
    with value 10. Validation: u1..u3 (who had c) take b. Popularity by users ranks
    a (3) above b (1); by summed values b (10) above a (3)."""
    rows = [
        ("u1", "c", 1, "train"),
        ("u2", "c", 1, "train"),
        ("u3", "c", 1, "train"),
        ("u4", "a", 1, "train"),
        ("u5", "a", 1, "train"),
        ("u6", "a", 1, "train"),
        ("u7", "b", 10, "train"),
        ("u1", "b", 5, "valid"),
        ("u2", "b", 5, "valid"),
        ("u3", "b", 5, "valid"),
    ]
    users = IdMap([f"u{i}" for i in range(1, 8)], kind="user")
    items = IdMap(["a", "b", "c"], kind="item")
    full = Dataset(
        user_map=users,
        item_map=items,
        users_idx=users.lookup([r[0] for r in rows]),
        items_idx=items.lookup([r[1] for r in rows]),
        values=np.array([r[2] for r in rows], dtype=np.float32),
        timestamps=np.zeros(len(rows), dtype=np.int64),
    )
    part = np.array([r[3] for r in rows])
    return full.subset(part == "train", "train"), full.subset(part == "valid", "valid")


def test_select_config_picks_the_better_setting() -> None:
    train, valid = _split()
    best, trials = select_config("pop", {}, {"weight": ["users", "values"]}, train, valid)
    assert best == {"weight": "values"}
    # by users, b comes second after a (c is excluded): NDCG = 1/log2(3); by values first
    assert list(trials["weight"]) == ["users", "values"]
    np.testing.assert_allclose(trials["ndcg@10"], [1 / np.log2(3), 1.0])
    assert list(trials["best"]) == [False, True]
    assert {"fit_seconds", "eval_seconds"} <= set(trials.columns)


def test_tune_hands_back_the_best_trials_fitted_model() -> None:
    """compare tests this model instead of fitting the same configuration again."""
    train, valid = _split()
    found = tune("pop", {}, {"weight": ["values", "users"]}, train, valid)
    assert found.config == {"weight": "values"}
    assert found.model is not None and found.model.config.weight == "values"  # type: ignore[attr-defined]
    assert found.fit_seconds == found.trials.loc[found.trials["best"], "fit_seconds"].item()
    assert found.model.recommend("u1", k=1).item_ids == ["b"]  # c was seen


def test_lower_is_better_metrics_pick_the_minimum() -> None:
    train, valid = _split()
    # mean popularity of the top-1 item: a (3 users) by users, b (1 user) by values
    best, trials = select_config(
        "pop", {}, {"weight": ["users", "values"]}, train, valid, metric="popularity@1"
    )
    assert list(trials["popularity@1"]) == [3.0, 1.0]
    assert best == {"weight": "values"}


def test_default_grid_comes_from_the_model_class() -> None:
    train, valid = _split()
    # pop declares no tuning grid: one trial with the base config
    best, trials = select_config("pop", {"weight": "users"}, None, train, valid)
    assert best == {"weight": "users"} and len(trials) == 1


def test_grid_points_are_the_product_or_a_seeded_sample() -> None:
    grid = {"b": [1, 2], "a": ["x", "y"], "c": [0.1, 0.2]}
    points = grid_points(grid)
    assert len(points) == 8 and points[0] == {"a": "x", "b": 1, "c": 0.1}
    sample = grid_points(grid, max_trials=3, seed=5)
    assert len(sample) == 3 and all(p in points for p in sample)
    assert sample == grid_points(grid, max_trials=3, seed=5)
    assert len({tuple(p.items()) for p in sample}) == 3
    with pytest.raises(ConfigError, match="non-empty list"):
        grid_points({"a": []})
    with pytest.raises(ConfigError, match="non-empty list"):
        grid_points({"a": "abc"})


def test_unknown_config_key_is_reported() -> None:
    train, valid = _split()
    with pytest.raises(ConfigError, match="unknown key 'alpha'"):
        select_config("pop", {}, {"alpha": [1, 2]}, train, valid)


def test_trials_table_is_a_frame() -> None:
    train, valid = _split()
    _, trials = select_config("pop", {}, {"weight": ["users"]}, train, valid, metric="Recall@1")
    assert isinstance(trials, pd.DataFrame) and "recall@1" in trials.columns
