"""Click metrics (AUC, log-loss, ECE): known answers, agreement with scikit-learn, and
evaluate() computing them for a click model on held-out rated interactions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import roc_auc_score

from lmrec.errors import UnsupportedError
from lmrec.evaluation import metrics as M
from lmrec.evaluation.runner import click_pairs, evaluate
from lmrec.models.registry import create_model
from lmrec.testing import blocks


def test_auc_known_answers() -> None:
    y = np.array([0, 0, 1, 1])
    assert M.auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert M.auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert M.auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5  # ties count half
    assert math.isnan(M.auc([1, 1], [0.2, 0.3]))  # no non-click: undefined


def test_click_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(500).round(2)  # rounding makes ties
    y = rng.random(500) < p
    assert M.auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert M.log_loss(y, p) == pytest.approx(sk_log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))


def test_expected_calibration_error() -> None:
    # ten pairs at 0.25 of which one in four is a click: perfectly calibrated
    y = np.array([1, 0, 0, 0] * 5, dtype=bool)
    assert M.expected_calibration_error(y, np.full(20, 0.25)) == pytest.approx(0.0)
    # everything at 0.9 but half are clicks: off by 0.4 everywhere
    assert M.expected_calibration_error([1, 0], [0.9, 0.9]) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="within"):
        M.expected_calibration_error([1], [1.5])


def test_lower_is_better_for_losses() -> None:
    assert M.lower_is_better("logloss") and M.lower_is_better("ece")
    assert not M.lower_is_better("auc")


@pytest.fixture(scope="module")
def rated() -> tuple:
    data = blocks(explicit=True, noise_per_user=2)
    model = create_model(
        "rerank",
        {
            "retriever_config": {"reg": 1.0},
            "candidates": 10,
            "ranker_holdout": 0.15,
            "dim": 8,
            "hidden": (16,),
            "epochs": 10,
            "batch_size": 64,
            "lr": 0.01,
            "use_text": False,
            "threads": 1,
        },
    ).fit(data.train)
    return data, model


def test_click_pairs_label_ratings_and_untouched_candidates(rated: tuple) -> None:
    data, model = rated
    users = np.flatnonzero(np.diff(data.test.csr.indptr) > 0)
    labels, probs = click_pairs(model, data.test, data.train.binary_csr, users, threshold=4.0)
    # every test item is rated 4 or 5 in the toy data: one click per user, and the other
    # candidates (nine per user: ten minus the held-out one) are non-clicks
    assert labels.sum() == len(users)
    assert len(labels) == len(users) * 10
    assert ((probs > 0) & (probs < 1)).all()
    # a threshold above every rating makes every held-out item a non-click
    labels5, _ = click_pairs(model, data.test, data.train.binary_csr, users, threshold=6.0)
    assert labels5.sum() == 0


def test_evaluate_reports_click_metrics(rated: tuple) -> None:
    data, model = rated
    result = evaluate(model, data.test, exclude=data.train, metrics=["ndcg@5", "auc", "logloss"])
    assert 0.5 < result.catalogue["auc"] <= 1.0  # the held-out item is the user's top item
    assert result.catalogue["logloss"] > 0
    everything = evaluate(model, data.test, exclude=data.train)
    assert {"auc", "logloss", "ece"} <= set(everything.catalogue)


def test_click_metrics_need_a_click_model() -> None:
    data = blocks()
    ease = create_model("ease", {"reg": 1.0}).fit(data.train)
    with pytest.raises(UnsupportedError, match="does not predict clicks"):
        evaluate(ease, data.test, exclude=data.train, metrics=["auc"])
    assert "auc" not in evaluate(ease, data.test, exclude=data.train).catalogue
