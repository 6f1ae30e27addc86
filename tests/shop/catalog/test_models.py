from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from shop.catalog.models import Category, Product
from shop.catalog.services import review_create
from shop.core.errors import Conflict
from tests.factories import CategoryFactory, ProductFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    """clothing > women > dresses, clothing > men; beauty."""
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    women = CategoryFactory(name="Women", slug="women", parent=clothing)
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=women)
    men = CategoryFactory(name="Men", slug="men", parent=clothing)
    beauty = CategoryFactory(name="Beauty", slug="beauty")
    return {"clothing": clothing, "women": women, "dresses": dresses, "men": men, "beauty": beauty}


# The category tree


def test_it_stores_the_path_and_depth_of_each_category(tree):
    assert (tree["clothing"].path, tree["clothing"].depth) == ("clothing", 0)
    assert (tree["women"].path, tree["women"].depth) == ("clothing/women", 1)
    dresses = Category.objects.get(slug="dresses")
    assert (dresses.path, dresses.depth) == ("clothing/women/dresses", 2)


def test_it_lists_categories_in_tree_order(tree):
    assert [c.slug for c in Category.objects.all()] == ["beauty", "clothing", "men", "women", "dresses"]


def test_it_re_roots_descendants_when_a_category_moves(tree):
    women = tree["women"]
    women.parent = tree["beauty"]
    women.save()

    women.refresh_from_db()
    dresses = Category.objects.get(slug="dresses")
    assert (women.path, women.depth) == ("beauty/women", 1)
    assert (dresses.path, dresses.depth) == ("beauty/women/dresses", 2)
    assert dresses.parent_id == women.pk
    # The old branch keeps only what did not move.
    assert {c.slug for c in tree["clothing"].subtree()} == {"clothing", "men"}


def test_it_re_roots_descendants_when_a_branch_becomes_a_root(tree):
    women = tree["women"]
    women.parent = None
    women.save()

    dresses = Category.objects.get(slug="dresses")
    assert (dresses.path, dresses.depth) == ("women/dresses", 1)
    women.refresh_from_db()
    assert (women.path, women.depth) == ("women", 0)


def test_it_re_roots_descendants_when_a_category_moves_deeper(tree):
    clothing = tree["clothing"]
    clothing.parent = tree["beauty"]
    clothing.save()

    paths = dict(Category.objects.values_list("slug", "path"))
    depths = dict(Category.objects.values_list("slug", "depth"))
    assert paths["dresses"] == "beauty/clothing/women/dresses"
    assert depths["dresses"] == 3
    assert paths["men"] == "beauty/clothing/men"
    assert depths["men"] == 2


def test_it_updates_descendant_paths_when_a_slug_changes(tree):
    women = tree["women"]
    women.slug = "womens"
    women.save()

    assert Category.objects.get(slug="dresses").path == "clothing/womens/dresses"
    # A sibling sharing the prefix text is not touched.
    assert Category.objects.get(slug="men").path == "clothing/men"


def test_it_does_not_touch_categories_whose_path_only_starts_with_the_same_text():
    CategoryFactory(name="Home", slug="home")
    homeware = CategoryFactory(name="Homeware", slug="homeware")
    lamps = CategoryFactory(name="Lamps", slug="lamps", parent=homeware)
    other_root = CategoryFactory(name="Other", slug="other")
    home = Category.objects.get(slug="home")
    home.parent = other_root
    home.save()

    lamps.refresh_from_db()
    assert lamps.path == "homeware/lamps"


def test_it_refuses_to_make_a_category_its_own_parent(tree):
    women = tree["women"]
    women.parent = women
    with pytest.raises(ValidationError) as excinfo:
        women.clean()
    assert "parent" in excinfo.value.message_dict


def test_it_refuses_to_move_a_category_below_its_own_descendant(tree):
    clothing = Category.objects.get(slug="clothing")
    clothing.parent = Category.objects.get(slug="dresses")
    with pytest.raises(ValidationError) as excinfo:
        clothing.full_clean()
    assert "parent" in excinfo.value.message_dict
    clothing.refresh_from_db()
    assert clothing.parent_id is None


def test_it_allows_moving_a_category_under_a_non_descendant(tree):
    women = Category.objects.get(slug="women")
    women.parent = tree["beauty"]
    women.clean()  # no error


def test_it_lists_ancestors_from_the_root_down(tree):
    dresses = Category.objects.get(slug="dresses")
    assert [c.slug for c in dresses.ancestors()] == ["clothing", "women"]
    assert list(tree["clothing"].ancestors()) == []


def test_it_lists_ancestors_in_one_query(tree, django_assert_num_queries):
    dresses = Category.objects.get(slug="dresses")
    with django_assert_num_queries(1):
        list(dresses.ancestors())


def test_it_returns_the_subtree_including_itself(tree):
    assert {c.slug for c in tree["clothing"].subtree()} == {"clothing", "women", "dresses", "men"}
    assert {c.slug for c in Category.objects.get(slug="dresses").subtree()} == {"dresses"}
    assert {c.slug for c in tree["beauty"].subtree()} == {"beauty"}


def test_it_finds_products_in_a_category_and_its_sub_categories(tree):
    dress = ProductFactory(category=tree["dresses"])
    shirt = ProductFactory(category=tree["men"])
    lipstick = ProductFactory(category=tree["beauty"])

    assert set(Product.objects.in_category(tree["clothing"])) == {dress, shirt}
    assert set(Product.objects.in_category(tree["women"])) == {dress}
    assert lipstick not in Product.objects.in_category(tree["clothing"])


def test_it_refuses_to_delete_a_category_that_has_children(tree):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        tree["women"].delete()
    assert Category.objects.filter(slug="women").exists()


# Product constraints


def test_it_refuses_negative_stock_in_the_database():
    product = ProductFactory(stock=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(stock=-1)
    product.refresh_from_db()
    assert product.stock == 3


def test_it_refuses_a_negative_price_in_the_database():
    product = ProductFactory(price=Decimal("5.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(price=Decimal("-1.00"))
    product.refresh_from_db()
    assert product.price == Decimal("5.00")


@pytest.mark.parametrize("compare_at", ["10.00", "9.99"])
def test_it_refuses_a_compare_at_price_not_above_the_price_in_the_database(compare_at):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductFactory(price=Decimal("10.00"), compare_at_price=Decimal(compare_at))
    assert not Product.objects.exists()


@pytest.mark.parametrize("compare_at", ["10.00", "9.99"])
def test_it_refuses_a_compare_at_price_not_above_the_price_in_clean(compare_at):
    product = ProductFactory.build(price=Decimal("10.00"), compare_at_price=Decimal(compare_at))
    with pytest.raises(ValidationError) as excinfo:
        product.clean()
    assert "compare_at_price" in excinfo.value.message_dict


def test_it_accepts_a_compare_at_price_above_the_price():
    product = ProductFactory(price=Decimal("10.00"), compare_at_price=Decimal("12.50"))
    product.refresh_from_db()
    assert product.on_sale
    assert product.compare_at_price == Decimal("12.50")
    assert product.discount_percent == 20


def test_it_reports_stock_status(settings):
    settings.SHOP_LOW_STOCK = 5
    assert not ProductFactory.build(stock=0).in_stock
    assert ProductFactory.build(stock=5).low_stock
    assert not ProductFactory.build(stock=6).low_stock
    assert not ProductFactory.build(stock=0).low_stock


def test_it_gives_the_price_as_money_in_the_shop_currency(settings):
    settings.SHOP_CURRENCY = "USD"
    product = ProductFactory.build(price=Decimal("19.99"))
    assert product.price_money.amount == Decimal("19.99")
    assert product.price_money.currency == "USD"


# Reviews


def test_it_updates_the_rating_when_a_review_is_created():
    product = ProductFactory()
    review_create(product=product, user=UserFactory(), rating=5, title="Great")
    review_create(product=product, user=UserFactory(), rating=4)
    review_create(product=product, user=UserFactory(), rating=4)

    product.refresh_from_db()
    assert product.rating_count == 3
    assert product.rating_avg == Decimal("4.33")


def test_it_refuses_a_second_review_by_the_same_customer():
    product = ProductFactory()
    user = UserFactory()
    review_create(product=product, user=user, rating=5)

    with pytest.raises(Conflict) as excinfo:
        review_create(product=product, user=user, rating=1)

    assert excinfo.value.status_code == 409
    assert "already reviewed" in str(excinfo.value.message)
    product.refresh_from_db()
    assert product.rating_count == 1
    assert product.rating_avg == Decimal("5.00")
    assert product.reviews.get().rating == 5


def test_it_counts_only_the_products_own_reviews():
    product, other = ProductFactory(), ProductFactory()
    ReviewFactory(product=other, rating=1)
    review_create(product=product, user=UserFactory(), rating=3)

    product.refresh_from_db()
    assert (product.rating_count, product.rating_avg) == (1, Decimal("3.00"))


def test_it_refuses_a_rating_out_of_range_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewFactory(rating=6)
