"""The maths of the store's recommender: item-to-item similarity over a sparse matrix.

Pure functions of scipy.sparse matrices, no database: the build (build.py) feeds them the store's
history, the offline evaluation (evaluation.py) feeds them MovieLens, so what is measured is what
ships. A customer's scores are their history times the similarity matrix (`score`): each item
they touched lends its neighbours its weight, as in item-to-item collaborative filtering.

The similarity is RP3beta (Paudel et al. 2017, as tuned by Dacrema et al. 2019): a random walk
item → customer → item, where each step picks among the customer's items (or the item's
customers) in proportion to their weights, both steps raised to the power `alpha`, and the item
reached divided by its popularity to the power `beta`, so that best-sellers stop being everyone's
neighbour. Each row keeps its `neighbours` best and is scaled to sum to 1, so a customer's items
lend their neighbours comparable weight whatever their popularity. Plain cosine (with shrinkage)
stays available for comparison. docs/recommendations-evaluation.md says how the defaults were
chosen and what they score.

The items × items product is never held whole: it is computed a block of item rows at a time,
each block reduced to its top k before the next, so memory grows with items × `neighbours`, not
items².
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

DEFAULT_NEIGHBOURS = 30
DEFAULT_ALPHA = 0.5
DEFAULT_BETA = 0.4
# Cells of one dense block of the items × items product (float32): 4M cells are 16 MB, and a few
# temporaries of that size are what the computation holds beyond its input and output.
BLOCK_CELLS = 4_000_000


def similar_items(
    interactions: sparse.spmatrix,
    *,
    neighbours: int = DEFAULT_NEIGHBOURS,
    method: str = "rp3beta",
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    shrink: float = 0.0,
    normalise: bool = True,
    block_cells: int = BLOCK_CELLS,
) -> sparse.csr_matrix:
    """Items × items similarities from a users × items matrix of interaction weights: row i holds
    at most `neighbours` items closest to item i (never i itself, only positive scores), float32.

    `method` "rp3beta" (the default, see the module's docstring) uses `alpha` and `beta`; "cosine"
    uses `shrink` (x_i·x_j / (|x_i| |x_j| + shrink)). With `normalise`, each row sums to 1.
    Deterministic: ties are broken by the lower column."""
    matrix = _clean(interactions)
    if method == "rp3beta":
        left, right, column_scale = _rp3beta_factors(matrix, alpha=alpha, beta=beta)
        transform = _scale_columns(column_scale)
    elif method == "cosine":
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0), dtype=np.float64).ravel())
        left, right = matrix.T.tocsr(), matrix
        transform = _cosine(norms.astype(np.float32), shrink)
    else:
        raise ValueError(f"unknown similarity method {method!r}: use 'rp3beta' or 'cosine'")
    similarity = _blocked_top_k(left, right, neighbours, transform, block_cells)
    if normalise:
        similarity = _rows_summing_to_one(similarity)
    return similarity


def top_k(matrix: sparse.spmatrix, k: int) -> sparse.csr_matrix:
    """Each row's k largest values (ties broken by the lower column), the rest dropped; float32.

    Vectorised: one sort of all stored values by (row, value descending, column), then each
    value's rank in its row."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    matrix.sum_duplicates()
    n_rows = matrix.shape[0]
    rows = np.repeat(np.arange(n_rows), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(order.size) - matrix.indptr[rows[order]]
    keep = np.sort(order[rank < k])  # back in (row, column) order
    kept_rows = rows[keep]
    return sparse.csr_matrix(
        (matrix.data[keep], matrix.indices[keep], _indptr(kept_rows, n_rows)), shape=matrix.shape, dtype=np.float32
    )


def score(history: sparse.spmatrix, similarity: sparse.csr_matrix) -> sparse.csr_matrix:
    """Users × items scores: each user's history (weights) times the similarity matrix."""
    return sparse.csr_matrix(history, dtype=np.float32) @ similarity


def _clean(interactions: sparse.spmatrix) -> sparse.csr_matrix:
    """float32 csr with duplicates summed and nothing but positive weights stored."""
    matrix = sparse.csr_matrix(interactions, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data[matrix.data < 0] = 0
    matrix.eliminate_zeros()
    return matrix


def _rp3beta_factors(matrix: sparse.csr_matrix, *, alpha: float, beta: float):
    """The two steps of the walk (item → customer, customer → item) and the popularity divisor."""
    to_items = _rows_summing_to_one(matrix)  # customer → item, in proportion to the weights
    to_customers = _rows_summing_to_one(matrix.T.tocsr())  # item → customer
    if alpha != 1:
        to_items.data **= alpha
        to_customers.data **= alpha
    popularity = np.diff(matrix.tocsc().indptr).astype(np.float64)  # customers per item
    column_scale = np.zeros(matrix.shape[1], dtype=np.float32)
    seen = popularity > 0
    column_scale[seen] = popularity[seen] ** -beta
    return to_customers, to_items, column_scale


def _scale_columns(column_scale: np.ndarray):
    def transform(block: np.ndarray, _rows: slice) -> np.ndarray:
        block *= column_scale
        return block

    return transform


def _cosine(norms: np.ndarray, shrink: float):
    def transform(block: np.ndarray, rows: slice) -> np.ndarray:
        denominator = np.outer(norms[rows], norms) + np.float32(shrink)
        np.divide(block, denominator, out=block, where=denominator > 0)
        return block

    return transform


def _blocked_top_k(left: sparse.csr_matrix, right: sparse.csr_matrix, k: int, transform, block_cells: int):
    """top_k(transform(left @ right)) without the diagonal, a block of rows at a time."""
    n_rows, n_cols = left.shape[0], right.shape[1]
    step = max(1, min(n_rows, block_cells // max(n_cols, 1)))
    rows_out, cols_out, values_out = [], [], []
    for start in range(0, n_rows, step):
        rows = slice(start, min(start + step, n_rows))
        block = (left[rows] @ right).toarray()
        block = transform(block, rows)
        local = np.arange(block.shape[0])
        block[local, local + start] = 0  # never an item's own neighbour
        r, c, v = _dense_top_k(block, k)
        rows_out.append(r + start)
        cols_out.append(c)
        values_out.append(v)
    all_rows = np.concatenate(rows_out) if rows_out else np.array([], dtype=np.int64)
    return sparse.csr_matrix(
        (
            np.concatenate(values_out).astype(np.float32) if values_out else np.array([], dtype=np.float32),
            np.concatenate(cols_out).astype(np.int32) if cols_out else np.array([], dtype=np.int32),
            _indptr(all_rows, n_rows),
        ),
        shape=(n_rows, n_cols),
        dtype=np.float32,
    )


def _dense_top_k(block: np.ndarray, k: int):
    """(rows, columns, values) of each row's k largest positive values, ties to the lower column."""
    n = block.shape[1]
    if k <= 0 or n == 0:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=block.dtype)
    if k >= n:
        threshold = np.zeros(block.shape[0], dtype=block.dtype)
        keep = block > 0
    else:
        kth = np.partition(block, n - k, axis=1)[:, n - k]  # each row's k-th largest value
        threshold = np.maximum(kth, 0)[:, None]
        above = block > threshold
        ties = (block == threshold) & (block > 0)
        room = k - above.sum(axis=1, keepdims=True)
        keep = above | (ties & (np.cumsum(ties, axis=1) <= room))
    rows, columns = np.nonzero(keep)
    return rows, columns, block[rows, columns]


def _rows_summing_to_one(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(matrix, dtype=np.float32, copy=True)
    sums = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    counts = np.diff(matrix.indptr)
    with np.errstate(divide="ignore"):
        inverse = np.where(sums > 0, 1 / sums, 0)
    matrix.data *= np.repeat(inverse, counts).astype(np.float32)
    return matrix


def _indptr(sorted_rows: np.ndarray, n_rows: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(sorted_rows, minlength=n_rows))]).astype(np.int64)
