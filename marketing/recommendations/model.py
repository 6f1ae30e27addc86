"""The maths of the store's recommender: item-to-item similarity over a sparse matrix.

Pure functions of scipy.sparse matrices, no database: the build (build.py) feeds them the store's
history, the offline evaluation (evaluation.py) feeds them MovieLens, so what is measured is what
ships. A customer's scores are their history times the similarity matrix (`score`): each item
they touched lends its neighbours its weight, as in item-to-item collaborative filtering.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

DEFAULT_NEIGHBOURS = 50


def similar_items(interactions: sparse.spmatrix, *, neighbours: int = DEFAULT_NEIGHBOURS) -> sparse.csr_matrix:
    """Items × items similarities from a users × items matrix of interaction weights: row i holds
    at most `neighbours` items closest to item i (never i itself), float32."""
    matrix = sparse.csr_matrix(interactions, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    norms[norms == 0] = 1
    scaled = matrix @ sparse.diags(1 / norms).astype(np.float32)
    similarity = (scaled.T @ scaled).tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    return top_k(similarity, neighbours)


def top_k(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Each row's k largest values (ties broken by the lower column), the rest dropped."""
    matrix = sparse.csr_matrix(matrix)
    indptr = [0]
    indices, data = [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        values, columns = matrix.data[start:end], matrix.indices[start:end]
        if end - start > k:
            keep = np.lexsort((columns, -values))[:k]
            values, columns = values[keep], columns[keep]
        indices.append(columns)
        data.append(values)
        indptr.append(indptr[-1] + len(columns))
    return sparse.csr_matrix(
        (
            np.concatenate(data) if data else np.array([], dtype=np.float32),
            np.concatenate(indices) if indices else np.array([], dtype=np.int32),
            np.array(indptr),
        ),
        shape=matrix.shape,
        dtype=np.float32,
    )


def score(history: sparse.spmatrix, similarity: sparse.csr_matrix) -> sparse.csr_matrix:
    """Users × items scores: each user's history (weights) times the similarity matrix."""
    return sparse.csr_matrix(history, dtype=np.float32) @ similarity
