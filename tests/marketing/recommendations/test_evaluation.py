"""evaluation.py and manage.py evaluate_recommendations: metrics on cases worked by hand, the splits,
and the command's table on a tiny store and a tiny ratings table (MovieLens itself is never loaded)."""

import datetime as dt
import io
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from scipy import sparse

from marketing.recommendations import evaluation as ev
from shop.orders.models import OrderLine
from tests.factories import OrderFactory, ProductFactory, UserFactory

MODELS = ["store (item-to-item)", "popularity", "random", "ALS (implicit)", "EASE"]


def interactions(users, items, times=None, baskets=None, n_items=None, repeatable=None):
    users, items = np.asarray(users), np.asarray(items)
    return ev.Interactions(
        users=users,
        items=items,
        weights=np.ones(len(users), np.float32),
        times=np.asarray(times if times is not None else np.arange(len(users)), np.float64),
        n_users=int(users.max()) + 1,
        n_items=n_items or int(items.max()) + 1,
        baskets=None if baskets is None else np.asarray(baskets),
        repeatable=repeatable,
    )


# Metrics ------------------------------------------------------------------------------------


def test_it_scores_a_ranking_as_worked_by_hand():
    test = sparse.csr_matrix(np.array([[1, 1, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1]], np.float32))
    recommended = np.array([[0, 3, 4, 5], [2, 3, 4, -1]])
    figures = ev.metrics_at_k(recommended, test, np.array([0, 1]), k=4)
    # user 0: hits at ranks 1 and 3 of 4, three hidden; user 1: nothing found.
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert figures["precision"] == pytest.approx((2 / 4 + 0) / 2)
    assert figures["recall"] == pytest.approx((2 / 3 + 0) / 2)
    assert figures["ndcg"] == pytest.approx((dcg / ideal + 0) / 2)
    assert figures["hit_rate"] == pytest.approx(0.5)


def test_ndcg_is_one_for_a_perfect_ranking_of_fewer_items_than_k():
    test = sparse.csr_matrix(np.array([[0, 1, 1, 0]], np.float32))
    figures = ev.metrics_at_k(np.array([[2, 1, 0, 3]]), test, np.array([0]), k=4)
    assert figures["ndcg"] == pytest.approx(1.0)
    assert figures["recall"] == pytest.approx(1.0)
    assert figures["precision"] == pytest.approx(0.5)


def test_it_ranks_by_score_without_excluded_items_ties_to_the_lower_item():
    def scores(users):
        return np.array([[0.5, 0.9, 0.5, 0.1, 0.9]] * len(users))

    exclude = sparse.csr_matrix(np.array([[0, 1, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32))
    ranked = ev.recommend(scores, np.array([0, 1]), exclude, k=3)
    assert ranked.tolist() == [[4, 0, 2], [1, 4, 0]]


# Splits -------------------------------------------------------------------------------------


def test_the_random_split_hides_a_fifth_of_each_users_items_and_reproduces():
    users = np.repeat(np.arange(3), [10, 5, 1])
    items = np.concatenate([np.arange(10), np.arange(5), [7]])
    data = interactions(users, items)
    split = ev.split_random(data, seed=1)
    assert np.diff(split.test.indptr).tolist() == [2, 1, 0]  # 20% of 10, of 5; none of a single item
    assert split.train.matrix().sum() == 16 - 3
    assert split.test.multiply(split.train.matrix()).nnz == 0
    assert (ev.split_random(data, seed=1).test != split.test).nnz == 0
    assert (ev.split_random(data, seed=2).test != split.test).nnz > 0


def test_leave_last_out_hides_each_users_latest_interaction_by_time():
    data = interactions(users=[0, 0, 0, 1, 1, 2], items=[0, 1, 2, 3, 0, 1], times=[5, 9, 1, 2, 1, 7])
    split = ev.split_last(data)
    assert split.test.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert split.users.tolist() == [0, 1]  # user 2 has a single interaction: train only


def test_leave_last_out_hides_the_whole_last_basket():
    data = interactions(users=[0, 0, 0, 0], items=[0, 1, 2, 3], times=[1, 1, 2, 2], baskets=[10, 10, 11, 11])
    assert ev.split_last(data).test.toarray().tolist() == [[0, 0, 1, 1]]


def test_seen_items_are_excluded_unless_bought_again_and_again():
    repeatable = np.array([False, False, True])
    data = interactions(
        users=[0, 0, 0, 0], items=[0, 2, 0, 2], times=[1, 1, 2, 2], baskets=[1, 1, 2, 2], repeatable=repeatable
    )
    split = ev.split_last(data)
    assert split.exclude.toarray().tolist() == [[1, 0, 0]]  # item 2 is a consumable: shown again
    assert split.test.toarray().tolist() == [[0, 0, 1]]  # item 0 was had already: not asked for


# Models and the table -------------------------------------------------------------------------


def tiny_ratings(seed=0):
    """40 users in two tastes over 30 films: users like one half of the films, a few of the other."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(40):
        liked = np.arange(15) if user % 2 else np.arange(15, 30)
        films = np.concatenate([rng.choice(liked, 8, replace=False), rng.choice(30, 1)])
        rows += [(user + 1, int(f) + 100, 4.0, 1_000_000 + 60 * i) for i, f in enumerate(np.unique(films))]
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])


def test_every_model_on_both_splits_and_the_store_model_learns_the_tastes():
    results = ev.movielens_results(load=tiny_ratings, k=5, seed=3)
    assert [(r.split, r.model) for r in results] == [
        (split, name) for split in ("random 80/20", "leave last out") for name in MODELS
    ]
    figures = {(r.split, r.model): r.metrics for r in results}
    store, random = figures[("random 80/20", MODELS[0])], figures[("random 80/20", "random")]
    assert store["precision"] > 2 * random["precision"]
    again = ev.movielens_results(load=tiny_ratings, k=5, seed=3)
    assert [r.metrics for r in again] == [r.metrics for r in results]  # reproduces


def test_the_store_row_is_what_similar_items_ships_by_default():
    import inspect

    from marketing.recommendations import model

    defaults = {
        name: p.default
        for name, p in inspect.signature(model.similar_items).parameters.items()
        if p.default is not p.empty
    }
    shipped = ev.shipped_params()
    assert shipped["method"] == defaults["method"] == "ease"
    assert shipped["regularization"] == defaults["regularization"]
    assert defaults["neighbours"] is None and shipped["neighbours"] == model.EASE_NEIGHBOURS  # EASE's own default
    history = sparse.random(60, 25, density=0.2, random_state=np.random.default_rng(1), format="csr", dtype=np.float32)
    assert (model.similar_items(history) != model.similar_items(history, **shipped)).nnz == 0
    store = ev.models()[0]
    assert store.name == "store (item-to-item)" and list(store.choices) == [shipped]
    assert store.label(shipped) == f"ease, λ={model.DEFAULT_REGULARIZATION:g}, k={model.EASE_NEIGHBOURS}"


def test_the_store_model_ranks_negative_scores_after_the_best_sellers():
    train = sparse.csr_matrix(np.array([[1, 0, 0, 0], [1, 1, 0, 1], [0, 1, 1, 0]], np.float32))
    scores = ev.store_model(train, neighbours=3, regularization=1)(np.array([0]))
    weights = ev.model.similar_items(train, neighbours=3, regularization=1).toarray()[0]
    popularity = train.sum(axis=0).A1
    for item in (1, 2, 3):
        if weights[item] > 0:
            assert scores[0, item] > 1
        else:
            assert scores[0, item] == pytest.approx(popularity[item] / (popularity.max() + 1))


def test_the_table_has_a_row_per_model_with_the_four_metrics():
    text = ev.table(ev.movielens_results(load=tiny_ratings, k=5, seed=3), k=5)
    assert "precision@5" in text and "recall@5" in text and "NDCG@5" in text and "hit rate@5" in text
    rows = [line.split("|")[3].strip() for line in text.splitlines()[2:]]
    assert [next(name for name in MODELS if row.startswith(name)) for row in rows] == MODELS * 2


# The command --------------------------------------------------------------------------------


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate_recommendations", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def paid_order(user, products, placed):
    order = OrderFactory(user=user, placed_at=placed, paid_at=placed)
    for product in products:
        OrderLine.objects.create(
            order=order,
            product=product,
            sku=product.sku,
            name=product.name,
            unit_price=Decimal("5.00"),
            quantity=1,
            subtotal=Decimal("5.00"),
        )
    return order


@pytest.mark.django_db
def test_the_command_prints_the_store_table_with_every_model(monkeypatch):
    monkeypatch.setattr(ev, "load_movielens", lambda: pytest.fail("MovieLens must not be loaded"))
    products = [ProductFactory() for _ in range(6)]
    start = timezone.now() - dt.timedelta(days=30)
    for n in range(8):
        pair = products[:2] if n % 2 else products[2:4]
        paid_order(UserFactory(), [pair[0]], start + dt.timedelta(days=n))
        paid_order(UserFactory.create(email=f"again{n}@example.org"), [*pair, products[4]], start)
    customer = UserFactory()
    paid_order(customer, [products[0]], start)
    paid_order(customer, [products[1]], start + dt.timedelta(days=1))
    unpaid = OrderFactory(user=customer, status="pending_payment", placed_at=start, paid_at=None)
    OrderLine.objects.create(order=unpaid, product=products[5], sku="x", name="x", unit_price=1, quantity=1, subtotal=1)

    out, err = run("--dataset", "store", "--k", "3", "--seed", "5")
    assert "precision@3" in out and "NDCG@3" in out
    for name in MODELS:
        assert f"| Store    | leave last out | {name}" in out
    assert "Store: " in err and "validation: EASE" in err


@pytest.mark.django_db
def test_the_command_says_to_seed_the_demo_when_there_are_no_orders():
    with pytest.raises(CommandError, match="seed the demo first"):
        run("--dataset", "store")


def test_the_command_runs_movielens_through_the_injectable_loader(monkeypatch):
    monkeypatch.setattr(ev, "load_movielens", tiny_ratings)
    out, err = run("--dataset", "movielens", "--k", "5")
    assert out.count("MovieLens") == 2 * len(MODELS)
    assert "MovieLens: 40 users, 30 films" in err
