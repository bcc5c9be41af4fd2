import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from lmrec.data.dataset import from_frame
from lmrec.encoders import ItemTextTemplate
from lmrec.explain.profile import item_terms
from lmrec.models.text.profiles import interaction_weights, user_profiles, weigh_values

DAY = 86_400


def log(**columns: list) -> object:
    return from_frame(pd.DataFrame(columns))


def test_value_weighting() -> None:
    v = np.array([1.0, 3.0, 0.0])
    np.testing.assert_allclose(weigh_values(v, "value"), [1, 3, 0])
    np.testing.assert_allclose(weigh_values(v, "binary"), [1, 1, 1])
    np.testing.assert_allclose(weigh_values(v, "log"), np.log1p([1, 3, 0]), rtol=1e-6)


def test_half_life_from_each_users_latest_event() -> None:
    data = log(
        user_id=["u", "u", "u", "v"],
        item_id=["a", "b", "c", "a"],
        value=[2.0, 2.0, 4.0, 1.0],
        timestamp=[0, 10 * DAY, 20 * DAY, 500 * DAY],
    )
    w = interaction_weights(data, half_life_days=10).toarray()  # type: ignore[arg-type]
    # u's latest event is day 20: day 10 is one half-life back, day 0 two
    np.testing.assert_allclose(w[0], [2 * 0.25, 2 * 0.5, 4.0], rtol=1e-6)
    # v's only event is their latest: full weight however long ago
    np.testing.assert_allclose(w[1], [1.0, 0.0, 0.0])
    plain = interaction_weights(data, value_weighting="binary").toarray()  # type: ignore[arg-type]
    np.testing.assert_allclose(plain, [[1, 1, 1], [1, 0, 0]])


def test_repeated_interactions_add_up() -> None:
    data = log(user_id=["u", "u"], item_id=["a", "a"], timestamp=[0, 0])
    assert interaction_weights(data).toarray().tolist() == [[2.0]]  # type: ignore[arg-type]


def test_profiles_are_normalised_weighted_means() -> None:
    items = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    weights = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [3.0, 0.0, 0.0]]))
    profiles = user_profiles(weights, items)
    s = np.sqrt(0.5)
    np.testing.assert_allclose(profiles, [[s, s], [0, 0], [1, 0]], atol=1e-6)


def test_blending_user_text() -> None:
    items = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    weights = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    text = np.array([[0.0, 2.0], [0.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    profiles = user_profiles(weights, items, user_vectors=text, user_weight=0.25)
    expected = np.array([0.75, 0.25]) / np.hypot(0.75, 0.25)
    np.testing.assert_allclose(profiles[0], expected, atol=1e-6)
    np.testing.assert_allclose(profiles[1], [0, 1], atol=1e-6)  # text alone
    np.testing.assert_allclose(profiles[2], [0, 0])  # nothing at all


def test_sparse_item_vectors_give_sparse_profiles() -> None:
    items = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    weights = sp.csr_matrix(np.array([[1.0, 1.0]]))
    profiles = user_profiles(weights, items)
    assert sp.issparse(profiles)
    s = np.sqrt(0.5)
    np.testing.assert_allclose(profiles.toarray(), [[s, 0, s]])  # type: ignore[union-attr]


def test_item_terms_keep_list_values_whole() -> None:
    table = pd.DataFrame(
        {"title": ["The Big Sleep (1946)"], "genres": ["Film-Noir|Mystery"], "year": [1946]}
    )
    terms = item_terms(table, ItemTextTemplate("{title}[ ({year})][. Genres: {genres}]"))
    assert terms == [["big", "sleep", "film-noir", "mystery"]]


@pytest.mark.parametrize("how", ["value", "binary", "log"])
def test_weights_without_timestamps_ignore_half_life(how: str) -> None:
    data = log(user_id=["u", "u"], item_id=["a", "b"], value=[1.0, 5.0])
    w = interaction_weights(data, half_life_days=1, value_weighting=how).toarray()  # type: ignore
    np.testing.assert_allclose(w, weigh_values(np.array([[1.0, 5.0]]), how))  # type: ignore
