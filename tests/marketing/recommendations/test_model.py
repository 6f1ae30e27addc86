"""model.py: EASE and RP3beta on tiny histories whose answer is known (EASE checked against numpy),
the dense limit, top k, and scores."""

import numpy as np
import pytest
from scipy import sparse

from marketing.recommendations import model

# Five customers, four items: items 0 and 1 always go together, 2 goes with 1 once, 3 alone.
HISTORY = sparse.csr_matrix(
    np.array(
        [
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 0, 0, 1],
        ],
        dtype=np.float32,
    )
)


def test_rp3beta_finds_the_items_bought_together_and_never_the_item_itself():
    similarity = model.similar_items(HISTORY, neighbours=5, method="rp3beta")
    dense = similarity.toarray()
    assert np.all(np.diag(dense) == 0)
    assert dense[0].argmax() == 1
    assert set(np.flatnonzero(dense[1])) == {0, 2}
    assert dense[1, 0] > dense[1, 2]  # three shared customers beat one
    assert not dense[3].any() and not dense[:, 3].any()  # bought alone: nobody's neighbour
    assert np.allclose(dense.sum(axis=1)[:3], 1)  # rows sum to 1


def test_it_computes_plain_cosine_with_shrinkage():
    dense = model.similar_items(HISTORY, neighbours=5, method="cosine", normalise=False).toarray()
    # items 0 and 1: 3 shared / (sqrt(3) * sqrt(4)); items 1 and 2: 1 / (sqrt(4) * 1)
    assert dense[0, 1] == pytest.approx(3 / np.sqrt(12), rel=1e-6)
    assert dense[1, 2] == pytest.approx(0.5, rel=1e-6)
    shrunk = model.similar_items(HISTORY, neighbours=5, method="cosine", shrink=10, normalise=False).toarray()
    assert shrunk[1, 2] == pytest.approx(1 / (2 + 10), rel=1e-6)


def test_rp3beta_keeps_at_most_k_positive_neighbours_per_row():
    rng = np.random.default_rng(3)
    history = sparse.random(200, 60, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    similarity = model.similar_items(history, neighbours=4, method="rp3beta")
    assert similarity.shape == (60, 60)
    assert np.diff(similarity.indptr).max() == 4
    assert similarity.diagonal().sum() == 0
    assert (similarity.data > 0).all()


@pytest.mark.parametrize("method", ["ease", "rp3beta"])
def test_it_gives_the_same_answer_whatever_the_block_size(method):
    rng = np.random.default_rng(4)
    history = sparse.random(300, 80, density=0.1, random_state=rng, format="csr", dtype=np.float32)
    whole = model.similar_items(history, neighbours=7, method=method)
    blocked = model.similar_items(history, neighbours=7, method=method, block_cells=80 * 3)  # three rows a block
    assert (whole != blocked).nnz == 0
    assert (model.similar_items(history, neighbours=7, method=method) != whole).nnz == 0  # deterministic


# EASE -----------------------------------------------------------------------------------------


def ease_by_hand(history: np.ndarray, regularization: float) -> np.ndarray:
    """B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, zero diagonal, in float64 with numpy."""
    inverse = np.linalg.inv(history.T @ history + regularization * np.eye(history.shape[1]))
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0)
    return weights


def random_history(seed, users=300, items=40, density=0.12):
    rng = np.random.default_rng(seed)
    history = sparse.random(users, items, density=density, random_state=rng, format="csr", dtype=np.float32)
    history.data = np.ceil(history.data * 5)  # weights 1 to 5
    return history


def test_ease_is_the_closed_form_scaled_so_the_mean_rows_positive_weights_add_up_to_one():
    history = random_history(6)
    dense = model.similar_items(history, method="ease", regularization=20, neighbours=40).toarray()
    expected = ease_by_hand(history.toarray().astype(np.float64), 20)
    scale = np.maximum(expected, 0).sum(axis=1).mean()
    assert np.allclose(dense, expected / scale, rtol=1e-3, atol=1e-6)
    assert np.maximum(dense, 0).sum(axis=1).mean() == pytest.approx(1, rel=1e-5)
    assert (dense < 0).any()  # the negative weights are kept
    assert np.all(np.diag(dense) == 0)


def test_ease_is_the_default_and_keeps_each_rows_largest_weights_by_absolute_value():
    history = random_history(7)
    full = model.similar_items(history, neighbours=40, regularization=5).toarray()
    pruned = model.similar_items(history, neighbours=8, regularization=5).toarray()
    again = model.similar_items(history, method="ease", neighbours=8, regularization=5).toarray()
    assert np.array_equal(pruned, again)
    assert (np.count_nonzero(pruned, axis=1) == 8).all()
    scale = pruned[0, np.flatnonzero(pruned[0])[0]] / full[0, np.flatnonzero(pruned[0])[0]]
    for row in range(40):
        best = np.argsort(-np.abs(full[row]), kind="stable")[:8]
        assert set(np.flatnonzero(pruned[row])) == set(best), row
        # the same weights, up to the one number that scales the whole matrix
        assert np.allclose(pruned[row, best], full[row, best] * scale, rtol=1e-4)
    assert (pruned < 0).any()


def test_ease_gives_no_weight_to_an_item_nobody_touched_and_learns_the_pairs():
    dense = model.similar_items(HISTORY, neighbours=5, regularization=1).toarray()
    assert not dense[3].any() and not dense[:, 3].any()  # bought alone: nobody's neighbour
    assert dense[0].argmax() == 1  # bought with 1 three times
    history = sparse.hstack([HISTORY, sparse.csr_matrix((5, 2), dtype=np.float32)]).tocsr()
    wider = model.similar_items(history, neighbours=5, regularization=1).toarray()
    assert not wider[4:].any() and not wider[:, 4:].any()
    assert np.allclose(wider[:4, :4], dense)  # items with no interaction change nothing


def test_ease_falls_back_to_rp3beta_above_the_dense_limit():
    history = random_history(8)
    assert model.uses_dense(history, dense_limit=40) and not model.uses_dense(history, dense_limit=39)
    fallback = model.similar_items(history, dense_limit=39)
    assert (fallback != model.similar_items(history, method="rp3beta")).nnz == 0
    assert (fallback.data > 0).all() and np.diff(fallback.indptr).max() == model.RP3BETA_NEIGHBOURS
    assert (
        model.similar_items(history, dense_limit=39, neighbours=3)
        != model.similar_items(history, method="rp3beta", neighbours=3)
    ).nnz == 0
    assert np.diff(model.similar_items(history, dense_limit=40).indptr).max() == 39  # EASE: every other item


def test_ease_ignores_negative_and_duplicate_interactions_like_the_other_methods():
    history = sparse.coo_matrix(([1, 1, -3, 1, 1], ([0, 0, 1, 1, 2], [0, 1, 0, 1, 1])), shape=(3, 2)).tocsr()
    cleaned = sparse.csr_matrix(np.array([[1, 1], [0, 1], [0, 1]], np.float32))
    assert np.allclose(
        model.similar_items(history, regularization=1).toarray(),
        model.similar_items(cleaned, regularization=1).toarray(),
    )


def test_the_defaults_are_ease_with_two_hundred_neighbours():
    assert model.DEFAULT_METHOD == "ease" and model.EASE_NEIGHBOURS == 200
    assert model.DEFAULT_REGULARIZATION == 400 and model.DENSE_LIMIT == 12_000


def test_it_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="unknown similarity method"):
        model.similar_items(HISTORY, method="magic")


def test_top_k_keeps_the_largest_and_breaks_ties_by_the_lower_column():
    matrix = sparse.csr_matrix(np.array([[0.1, 0.5, 0.5, 0.5, 0.9], [0, 0, 0.3, 0, 0], [0, 0, 0, 0, 0]], np.float32))
    kept = model.top_k(matrix, 3).toarray()
    assert kept.tolist() == [
        pytest.approx([0, 0.5, 0.5, 0, 0.9]),
        pytest.approx([0, 0, 0.3, 0, 0]),
        [0, 0, 0, 0, 0],
    ]


def test_top_k_matches_a_sort_row_by_row():
    rng = np.random.default_rng(5)
    matrix = sparse.random(50, 40, density=0.3, random_state=rng, format="csr", dtype=np.float32)
    kept = model.top_k(matrix, 5).toarray()
    for row, dense_row in enumerate(matrix.toarray()):
        expected = np.zeros_like(dense_row)
        best = np.argsort(-dense_row, kind="stable")[:5]
        expected[best] = dense_row[best]
        expected[expected < 0] = 0
        assert np.array_equal(kept[row], expected), row


def test_score_is_the_history_times_the_similarities():
    similarity = sparse.csr_matrix(np.array([[0, 0.7, 0.3], [0.6, 0, 0.4], [0.5, 0.5, 0]], np.float32))
    history = sparse.csr_matrix(np.array([[5, 0, 0], [1, 3, 0]], np.float32))
    scores = model.score(history, similarity).toarray()
    assert scores == pytest.approx(np.array([[0, 3.5, 1.5], [1.8, 0.7, 1.5]]))
