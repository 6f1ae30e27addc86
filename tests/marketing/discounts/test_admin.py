"""The promotions admin: the list, code batches and exports, the performance figures, the cart preview."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from marketing.discounts import selectors
from marketing.discounts.models import CODE_ALPHABET, CodeBatch, DiscountCode, Promotion, Redemption
from shop.orders.models import Order
from tests.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def promotion(**fields) -> Promotion:
    defaults = {
        "name": "Ten off",
        "kind": "percentage",
        "value": Decimal("10"),
        "starts_at": NOW - dt.timedelta(days=30),
    }
    return Promotion.objects.create(**{**defaults, **fields})


def order(*, total, status="paid", days_ago=1, **fields) -> Order:
    return OrderFactory(status=status, subtotal=total, placed_at=NOW - dt.timedelta(days=days_ago), **fields)


def redeem(promo, the_order, amount, status="active", code=None) -> Redemption:
    return Redemption.objects.create(
        promotion=promo, order=the_order, code=code, amount=Decimal(amount), currency="USD", status=status
    )


def action(client, name, promotions, **data):
    return client.post(
        reverse("admin:discounts_promotion_changelist"),
        {"action": name, ACTION_CHECKBOX_NAME: [p.pk for p in promotions], **data},
    )


def csv_rows(response) -> list[list[str]]:
    return list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content if response.streaming else [response.content]).decode())
        )
    )


# The list


def test_staff_sees_the_promotions_with_filters_search_and_the_stats_line(admin_client):
    running = promotion(name="Running sale", usage_limit=50)
    DiscountCode.objects.create(promotion=running, code="RUN10")
    promotion(name="Future sale", starts_at=NOW + dt.timedelta(days=3))
    promotion(name="Past sale", ends_at=NOW - dt.timedelta(days=1))
    redeem(running, order(total=Decimal("40.00")), "4.00")
    url = reverse("admin:discounts_promotion_changelist")

    response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Running sale" in page and "Future sale" in page and "Past sale" in page
    assert "3 promotions · 1 running now · 1 uses" in page
    assert "$4.00" in page
    for title in ("By kind", "By applies to", "By when", "By first order only", "By needs a code"):
        assert title in page

    def names(query):
        return {p.name for p in admin_client.get(url + query).context["cl"].result_list}

    assert names("?when=running") == {"Running sale"}
    assert names("?when=scheduled") == {"Future sale"}
    assert names("?when=ended") == {"Past sale"}
    assert names("?q=run10") == {"Running sale"}
    assert names("?q=future") == {"Future sale"}


def test_activate_and_deactivate_actions_switch_promotions(admin_client):
    one, two = promotion(name="One"), promotion(name="Two", is_active=False)

    action(admin_client, "deactivate", [one, two])
    assert not Promotion.objects.filter(is_active=True).exists()
    action(admin_client, "activate", [one])
    one.refresh_from_db(), two.refresh_from_db()
    assert one.is_active and not two.is_active


# Codes


def test_generating_codes_asks_for_count_prefix_and_length_first(admin_client):
    promo = promotion()

    response = action(admin_client, "generate_codes", [promo])

    assert response.status_code == 200
    assert "How many codes" in response.content.decode()
    assert not DiscountCode.objects.exists()


def test_it_generates_unique_single_use_codes_with_the_prefix_and_offers_the_csv(admin_client, staff):
    promo = promotion()

    response = action(admin_client, "generate_codes", [promo], apply="1", count=40, prefix="vip-", length=8)

    assert response.status_code == 200
    codes = list(DiscountCode.objects.filter(promotion=promo))
    assert len(codes) == 40 == len({c.code for c in codes})
    for code in codes:
        assert code.code.startswith("VIP-") and len(code.code) == 12
        assert set(code.code[4:]) <= set(CODE_ALPHABET)
        assert not set(code.code[4:]) & set("01OIL")
        assert code.max_uses == 1 and code.times_used == 0
    batch = CodeBatch.objects.get()
    assert (batch.count, batch.prefix, batch.created_by) == (40, "VIP-", staff)
    csv_url = reverse("admin:discounts_promotion_batch_csv", args=[batch.pk])
    assert csv_url in response.content.decode()

    download = admin_client.get(csv_url)
    assert download["Content-Type"].startswith("text/csv")
    rows = csv_rows(download)
    assert rows[0] == ["code", "promotion", "max_uses", "times_used", "batch", "created"]
    assert sorted(r[0] for r in rows[1:]) == sorted(c.code for c in codes)


def test_it_refuses_codes_for_an_automatic_promotion(admin_client):
    automatic = promotion(requires_code=False)

    response = action(admin_client, "generate_codes", [automatic], apply="1", count=5, prefix="", length=8)

    assert response.status_code == 302
    assert not DiscountCode.objects.exists()


def test_it_exports_the_codes_of_the_chosen_promotions_to_csv(admin_client):
    shared, other = promotion(name="Shared"), promotion(name="Other")
    DiscountCode.objects.create(promotion=shared, code="SHARED", times_used=3)
    single = DiscountCode.objects.create(promotion=shared, code="ONCE", max_uses=1)
    DiscountCode.objects.create(promotion=other, code="NOTME")

    rows = csv_rows(action(admin_client, "export_codes", [shared]))

    created = timezone.localtime(single.created_at).isoformat(timespec="seconds")
    assert rows == [
        ["code", "promotion", "max_uses", "times_used", "batch", "created"],
        ["SHARED", "Shared", "", "3", "", created],
        ["ONCE", "Shared", "1", "0", "", created],
    ]


def test_the_codes_list_filters_by_use_and_batch_searches_and_exports(admin_client):
    promo = promotion()
    batch = CodeBatch.objects.create(promotion=promo, prefix="B-", count=1)
    used = DiscountCode.objects.create(promotion=promo, code="USED", max_uses=1, times_used=1)
    fresh = DiscountCode.objects.create(promotion=promo, code="B-FRESH", max_uses=1, batch=batch)
    url = reverse("admin:discounts_discountcode_changelist")

    def codes(query):
        response = admin_client.get(url + query)
        assert response.status_code == 200
        return {c.code for c in response.context["cl"].result_list}

    assert codes("") == {"USED", "B-FRESH"}
    assert codes("?used=unused") == {"B-FRESH"}
    assert codes("?used=used_up") == {"USED"}
    assert codes(f"?batch={batch.pk}") == {"B-FRESH"}
    assert codes("?q=fresh") == {"B-FRESH"}
    exported = csv_rows(admin_client.post(url, {"action": "export_csv", ACTION_CHECKBOX_NAME: [used.pk, fresh.pk]}))
    assert [r[0] for r in exported[1:]] == ["USED", "B-FRESH"]


def test_a_big_batch_shows_the_first_20_codes_inline_and_links_to_all(admin_client):
    promo = promotion()
    DiscountCode.objects.bulk_create([DiscountCode(promotion=promo, code=f"C{n:03d}", max_uses=1) for n in range(60)])

    response = admin_client.get(reverse("admin:discounts_promotion_change", args=[promo.pk]))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert len(formset.initial_forms) == 20
    page = response.content.decode()
    assert "60 codes, 0 used" in page
    assert f"?promotion__id__exact={promo.pk}" in page


# Figures


def test_the_change_page_shows_the_promotions_performance(admin_client, django_assert_num_queries):
    promo = promotion(starts_at=NOW - dt.timedelta(days=20))
    redeem(promo, order(total=Decimal("90.00"), days_ago=2), "10.00")
    redeem(promo, order(total=Decimal("45.00"), status="delivered", days_ago=3), "5.00")
    redeem(promo, order(total=Decimal("70.00"), status="refunded", days_ago=4), "7.00")  # used, not revenue
    redeem(promo, order(total=Decimal("50.00"), status="cancelled", days_ago=4), "6.00", status="released")
    order(total=Decimal("30.00"), days_ago=5)  # without it
    order(total=Decimal("50.00"), status="shipped", days_ago=6)  # without it
    order(total=Decimal("999.00"), status="pending_payment", days_ago=1)  # not paid
    order(total=Decimal("999.00"), days_ago=25)  # before it started

    with django_assert_num_queries(3):
        stats = selectors.promotion_stats(promo)
    assert (stats.redemptions, stats.discount, stats.paid_orders, stats.revenue) == (
        3,
        Decimal("22.00"),
        2,
        Decimal("135.00"),
    )
    assert (stats.aov_with, stats.orders_without, stats.aov_without) == (Decimal("67.50"), 2, Decimal("40.00"))
    assert stats.aov_lift == Decimal("68.8")
    assert sum(m.redemptions for m in stats.months) == 3
    assert sum(m.discount for m in stats.months) == Decimal("22.00")

    response = admin_client.get(reverse("admin:discounts_promotion_change", args=[promo.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    for figure in ("$22.00", "$135.00", "$67.50", "$40.00", "+68.8%"):
        assert figure in page


def test_the_performance_takes_the_same_queries_whatever_the_history(django_assert_num_queries):
    promo = promotion(starts_at=NOW - dt.timedelta(days=400))
    for n in range(12):
        redeem(promo, order(total=Decimal("20.00"), days_ago=n * 30 + 1), "2.00")

    with django_assert_num_queries(3):
        stats = selectors.promotion_stats(promo)
    assert len(stats.months) >= 12 and stats.redemptions == 12


def test_the_redemptions_list_is_read_only_and_searches_by_order_number_and_email(admin_client):
    promo = promotion()
    first = redeem(promo, order(total=Decimal("20.00"), email="ann@example.org"), "2.00")
    redeem(promo, order(total=Decimal("30.00"), email="bob@example.org"), "3.00")
    url = reverse("admin:discounts_redemption_changelist")

    def found(query):
        return {r.pk for r in admin_client.get(url + query).context["cl"].result_list}

    assert found(f"?q={first.order.number}") == {first.pk}
    assert found("?q=ann@example") == {first.pk}
    assert len(found("?status__exact=active")) == 2
    assert admin_client.get(reverse("admin:discounts_redemption_add")).status_code == 403
    detail = admin_client.post(reverse("admin:discounts_redemption_change", args=[first.pk]), {"amount": "0"})
    assert detail.status_code == 403
    first.refresh_from_db()
    assert first.amount == Decimal("2.00")


# The preview


@pytest.fixture
def dresses():
    category = CategoryFactory(name="Dresses", slug="dresses")
    return ProductFactory(category=category, price=Decimal("30.00")), ProductFactory(price=Decimal("10.00"))


def preview(client, promo, rows, customer=None):
    data = {"customer": customer.pk if customer else ""}
    for n, (product, quantity) in enumerate(rows, 1):
        data.update({f"product_{n}": product.pk, f"quantity_{n}": quantity})
    return client.post(reverse("admin:discounts_promotion_preview", args=[promo.pk]), data)


def test_the_preview_says_why_a_cart_does_not_qualify(admin_client, dresses):
    dress, _other = dresses
    promo = promotion(min_subtotal=Decimal("80.00"))

    response = preview(admin_client, promo, [(dress, 2)])

    assert response.status_code == 200
    result = response.context["preview"]
    assert not result.ok and result.discount == 0
    assert "Spend $20.00 more" in response.content.decode()


def test_the_preview_shows_the_discount_the_new_total_and_each_lines_share(admin_client, dresses):
    dress, other = dresses
    promo = promotion(kind="percentage", value=Decimal("50"), scope="categories", max_discount=Decimal("25"))
    promo.categories.set([dress.category])

    response = preview(admin_client, promo, [(dress, 2), (other, 1)])

    result = response.context["preview"]
    assert result.ok
    assert result.discount == Decimal("25.00")  # half of 60.00, capped
    assert [(row.product, row.share) for row in result.rows] == [(dress, Decimal("25.00")), (other, Decimal("0"))]
    assert result.subtotal == Decimal("70.00")
    assert result.total_after == Decimal("50.00")  # 45.00 + 5.00 shipping (now under the free threshold)
    page = response.content.decode()
    assert "It applies." in page and "$25.00" in page and "$50.00" in page


def test_the_preview_of_a_future_promotion_warns_instead_of_refusing(admin_client, dresses):
    dress, _other = dresses
    promo = promotion(starts_at=NOW + dt.timedelta(days=10), is_active=False)

    result = preview(admin_client, promo, [(dress, 1)]).context["preview"]

    assert result.ok and result.discount == Decimal("3.00")
    assert len(result.warnings) == 2  # switched off, not started


def test_the_preview_looks_at_the_customer(admin_client, dresses):
    dress, _other = dresses
    promo = promotion(first_order_only=True)
    buyer = UserFactory()
    order(total=Decimal("20.00"), user=buyer)

    assert "Log in" in preview(admin_client, promo, [(dress, 1)]).context["preview"].message
    assert "first order" in preview(admin_client, promo, [(dress, 1)], customer=buyer).context["preview"].message
    assert preview(admin_client, promo, [(dress, 1)], customer=UserFactory()).context["preview"].ok


def test_the_preview_needs_a_product(admin_client):
    response = preview(admin_client, promotion(), [])

    assert response.status_code == 400
    assert "Choose at least one product" in response.content.decode()


# Access


def test_a_customer_reaches_none_of_it(client, customer):
    promo = promotion()
    batch = CodeBatch.objects.create(promotion=promo, prefix="X", count=0)
    client.force_login(customer)
    urls = [
        reverse("admin:discounts_promotion_changelist"),
        reverse("admin:discounts_promotion_change", args=[promo.pk]),
        reverse("admin:discounts_promotion_preview", args=[promo.pk]),
        reverse("admin:discounts_promotion_batch_csv", args=[batch.pk]),
        reverse("admin:discounts_discountcode_changelist"),
        reverse("admin:discounts_redemption_changelist"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    response = action(client, "generate_codes", [promo], apply="1", count=5, prefix="", length=8)
    assert response.status_code == 302
    assert not DiscountCode.objects.exists()
