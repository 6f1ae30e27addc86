"""model.py: similar items from a tiny history whose answer is known, top k, and scores."""

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


def test_it_finds_the_items_bought_together_and_never_the_item_itself():
    similarity = model.similar_items(HISTORY, neighbours=5)
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


def test_it_keeps_at_most_k_neighbours_per_row():
    rng = np.random.default_rng(3)
    history = sparse.random(200, 60, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    similarity = model.similar_items(history, neighbours=4)
    assert similarity.shape == (60, 60)
    assert np.diff(similarity.indptr).max() == 4
    assert similarity.diagonal().sum() == 0
    assert (similarity.data > 0).all()


def test_it_gives_the_same_answer_whatever_the_block_size():
    rng = np.random.default_rng(4)
    history = sparse.random(300, 80, density=0.1, random_state=rng, format="csr", dtype=np.float32)
    whole = model.similar_items(history, neighbours=7)
    blocked = model.similar_items(history, neighbours=7, block_cells=80 * 3)  # three rows a block
    assert (whole != blocked).nnz == 0
    assert (model.similar_items(history, neighbours=7) != whole).nnz == 0  # deterministic


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
