"""The maths of the store's recommender: item-to-item weights over a sparse matrix.

Pure functions of scipy.sparse matrices, no database: the build (build.py) feeds them the store's
history, the offline evaluation (evaluation.py) feeds them MovieLens, so what is measured is what
ships. A customer's scores are their history times the items × items matrix (`score`): each item
they touched lends its neighbours its weight, as in item-to-item collaborative filtering.

The default is EASE (Steck 2019): the weights B that best rebuild each customer's history from
the rest of it (min ‖X − XB‖² + λ‖B‖², no item explaining itself), in closed form from the
inverse of the items × items Gram matrix. Its rows are pruned to the `neighbours` largest weights
by absolute value, negative ones included: "customers who have this rarely want that" lowers a
score, which is much of EASE's edge (docs/recommendations-evaluation.md measures the cost of
pruning). The inverse is dense, items² float32 in place, so above `dense_limit` items the default
falls back to RP3beta.

RP3beta (Paudel et al. 2017, as tuned by Dacrema et al. 2019) is a random walk item → customer →
item, where each step picks among the customer's items (or the item's customers) in proportion to
their weights, both steps raised to the power `alpha`, and the item reached divided by its
popularity to the power `beta`, so that best-sellers stop being everyone's neighbour. Each row
keeps its `neighbours` best (positive only) and is scaled to sum to 1. It suits tables shown as
"goes with" (every neighbour a positive co-occurrence) and scales to any catalogue: the items ×
items product is computed a block of item rows at a time, each block reduced to its top k before
the next, so memory grows with items × `neighbours`, not items². Plain cosine (with shrinkage)
stays available for comparison. docs/recommendations-evaluation.md says how the defaults were
chosen and what they score.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

DEFAULT_METHOD = "ease"
# EASE keeps more neighbours than RP3beta: much of its accuracy is in weights a short row drops.
EASE_NEIGHBOURS = 200
DEFAULT_REGULARIZATION = 400.0
# Above this many items (with any interaction), "ease" falls back to "rp3beta": the dense Gram
# matrix and its inverse, computed in place, take items² × 4 bytes (576 MB at 12,000 items), and
# the time grows with items³.
DENSE_LIMIT = 12_000
RP3BETA_NEIGHBOURS = 30
DEFAULT_ALPHA = 0.5
DEFAULT_BETA = 0.4
METHODS = ("ease", "rp3beta", "cosine")
# Cells of one dense block of the items × items product (float32): 4M cells are 16 MB, and a few
# temporaries of that size are what the computation holds beyond its input and output.
BLOCK_CELLS = 4_000_000


def similar_items(
    interactions: sparse.spmatrix,
    *,
    neighbours: int | None = None,
    method: str = DEFAULT_METHOD,
    regularization: float = DEFAULT_REGULARIZATION,
    dense_limit: int = DENSE_LIMIT,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    shrink: float = 0.0,
    normalise: bool = True,
    block_cells: int = BLOCK_CELLS,
) -> sparse.csr_matrix:
    """Items × items weights from a users × items matrix of interaction weights: row i holds at
    most `neighbours` items (never i itself), float32. A customer's scores are their history times
    this matrix (`score`). Deterministic: ties are broken by the lower column.

    `method` "ease" (the default, see the module's docstring) uses `regularization` (λ) and keeps
    each row's `neighbours` (default EASE_NEIGHBOURS) largest weights by absolute value, negative
    ones included; over `dense_limit` items with any interaction it falls back to "rp3beta".
    "rp3beta" uses `alpha` and `beta`, "cosine" uses `shrink` (x_i·x_j / (|x_i| |x_j| + shrink)):
    both keep only positive scores, `neighbours` (default RP3BETA_NEIGHBOURS) a row, and with
    `normalise` each row sums to 1."""
    if method not in METHODS:
        raise ValueError(f"unknown similarity method {method!r}: use one of {', '.join(METHODS)}")
    matrix = _clean(interactions)
    if method == "ease" and _active_items(matrix).size <= dense_limit:
        return _ease(matrix, EASE_NEIGHBOURS if neighbours is None else neighbours, regularization, block_cells)
    neighbours = RP3BETA_NEIGHBOURS if neighbours is None else neighbours
    if method == "cosine":
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0), dtype=np.float64).ravel())
        left, right = matrix.T.tocsr(), matrix
        transform = _cosine(norms.astype(np.float32), shrink)
    else:  # rp3beta, also when "ease" has too many items
        left, right, column_scale = _rp3beta_factors(matrix, alpha=alpha, beta=beta)
        transform = _scale_columns(column_scale)
    similarity = _blocked_top_k(left, right, neighbours, transform, block_cells)
    if normalise:
        similarity = _rows_summing_to_one(similarity)
    return similarity


def uses_dense(interactions: sparse.spmatrix, *, dense_limit: int = DENSE_LIMIT) -> bool:
    """Whether the default method computes EASE on these interactions (else RP3beta)."""
    return _active_items(_clean(interactions)).size <= dense_limit


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


def _active_items(matrix: sparse.csr_matrix) -> np.ndarray:
    return np.flatnonzero(np.bincount(matrix.indices, minlength=matrix.shape[1]))


def _ease(matrix: sparse.csr_matrix, k: int, regularization: float, block_cells: int) -> sparse.csr_matrix:
    """EASE's B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, zero diagonal (B[i, j] = -P[i, j] /
    P[j, j]), over the items with any interaction, each row pruned to its k largest |B[i, j]|,
    then the whole matrix scaled by one number so that the mean row's positive weights add up to 1
    (as RP3beta's rows do; one number changes no customer's ranking).

    float32 and in place: the Gram matrix is written a block of columns at a time into one dense
    array, LAPACK's Cholesky factorisation (potrf) and inverse (potri) overwrite it, and B is read
    from it a block of rows at a time: memory is one items² float32 array plus blocks."""
    from scipy.linalg import lapack

    n_items = matrix.shape[1]
    active = _active_items(matrix)
    n = active.size
    if n == 0 or k <= 0:
        return sparse.csr_matrix((n_items, n_items), dtype=np.float32)
    columns = matrix[:, active].tocsc()
    step = max(1, min(n, block_cells // n))
    gram = np.empty((n, n), dtype=np.float32, order="F")
    left = columns.T.tocsr()
    for start in range(0, n, step):
        gram[:, start : start + step] = (left @ columns[:, start : start + step]).toarray()
    gram[np.diag_indices(n)] += np.float32(regularization)
    factor, info = lapack.spotrf(gram, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: the Gram matrix is not positive definite (potrf {info})")
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: the Gram matrix cannot be inverted (potri {info})")
    del gram, factor  # all three names are one array: the upper triangle now holds P
    diagonal = np.diag(inverse).copy()
    rows_out, cols_out, values_out = [], [], []
    for start in range(0, n, step):
        stop = min(start + step, n)
        local = np.arange(stop - start)
        # P's rows start..stop: the upper triangle as stored, the lower read from its mirror image
        upper = np.arange(n)[None, :] >= (local + start)[:, None]
        block = np.where(upper, inverse[start:stop, :], inverse[:, start:stop].T)
        block /= -diagonal
        block[local, local + start] = 0
        r, c, v = _dense_top_k(block, k, by_magnitude=True)
        rows_out.append(active[r + start])
        cols_out.append(active[c])
        values_out.append(v)
    del inverse
    rows, cols, values = np.concatenate(rows_out), np.concatenate(cols_out), np.concatenate(values_out)
    positive_per_row = np.bincount(rows, weights=np.maximum(values, 0), minlength=n_items)
    mean = positive_per_row[positive_per_row > 0].mean() if (positive_per_row > 0).any() else 1.0
    order = np.lexsort((cols, rows))
    return sparse.csr_matrix(
        ((values[order] / mean).astype(np.float32), cols[order].astype(np.int32), _indptr(rows[order], n_items)),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


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


def _dense_top_k(block: np.ndarray, k: int, *, by_magnitude: bool = False):
    """(rows, columns, values) of each row's k largest positive values (by_magnitude: largest
    absolute values, of either sign), ties to the lower column; zeros are never kept."""
    n = block.shape[1]
    if k <= 0 or n == 0:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=block.dtype)
    key = np.abs(block) if by_magnitude else block
    if k >= n:
        keep = key > 0
    else:
        kth = np.partition(key, n - k, axis=1)[:, n - k]  # each row's k-th largest key
        threshold = np.maximum(kth, 0)[:, None]
        above = key > threshold
        ties = (key == threshold) & (key > 0)
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
