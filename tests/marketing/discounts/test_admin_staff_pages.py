"""The promotions admin as staff use it: each promotion's code in the list, a "Generate codes" button on the
promotion's page with a result page that shows the first codes and the download, messages in sentences."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from marketing.discounts.models import CodeBatch, DiscountCode, Promotion
from tests.factories import StaffFactory
from tests.marketing.discounts.test_admin import action, promotion

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def act(client, name, promotions, **data):
    """A list action, following its redirect to the page with the messages."""
    url = reverse("admin:discounts_promotion_changelist")
    return client.post(url, {"action": name, ACTION_CHECKBOX_NAME: [p.pk for p in promotions], **data}, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_list_shows_each_promotions_code_in_six_columns(admin_client, django_assert_num_queries):
    one = promotion(name="Yalda night")
    DiscountCode.objects.create(promotion=one, code="YALDA50")
    many = promotion(name="VIP")
    for n in range(3):
        DiscountCode.objects.create(promotion=many, code=f"VIP-{n}AAAA")
    promotion(name="Summer", requires_code=False)
    promotion(name="Soon")  # needs a code, has none yet
    url = reverse("admin:discounts_promotion_changelist")
    admin_client.get(url)

    with django_assert_num_queries(7):
        response = admin_client.get(url)
    for n in range(5):  # whatever the number of promotions: their codes come with the rows
        DiscountCode.objects.create(promotion=promotion(name=f"More {n}"), code=f"MORE{n}")
    with django_assert_num_queries(7):
        admin_client.get(url)

    html = response.content.decode()
    assert "<code>YALDA50</code>" in html
    assert "<code>VIP-0AAAA</code>" in html and "+2 more" in html
    assert "automatic" in html and "no code yet" in html
    headers = [str(h["text"]) for h in response.context["result_headers"]][1:]  # after the checkbox
    assert headers == ["name", "discount", "on", "code", "status", "used"]


def test_the_promotion_page_has_a_generate_codes_button(admin_client):
    promo = promotion()

    html = admin_client.get(reverse("admin:discounts_promotion_change", args=[promo.pk])).content.decode()

    assert reverse("admin:discounts_promotion_generate", args=[promo.pk]) in html
    assert "Generate codes" in html


def test_an_automatic_promotion_or_a_clerk_without_the_right_gets_no_button(client, admin_client):
    automatic = promotion(requires_code=False)
    html = admin_client.get(reverse("admin:discounts_promotion_change", args=[automatic.pk])).content.decode()
    assert reverse("admin:discounts_promotion_generate", args=[automatic.pk]) not in html

    clerk = StaffFactory(email="clerk@example.org", is_superuser=False)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_promotion", "change_promotion"]))
    client.force_login(clerk)
    promo = promotion()
    html = client.get(reverse("admin:discounts_promotion_change", args=[promo.pk])).content.decode()
    assert reverse("admin:discounts_promotion_generate", args=[promo.pk]) not in html
    assert client.post(reverse("admin:discounts_promotion_generate", args=[promo.pk]), {"count": 3}).status_code == 403
    assert not DiscountCode.objects.exists()


def test_generating_from_the_button_shows_the_first_codes_and_the_download(admin_client, staff):
    promo = promotion(name="Yalda night")
    url = reverse("admin:discounts_promotion_generate", args=[promo.pk])
    assert "How many codes" in admin_client.get(url).content.decode()

    response = admin_client.post(url, {"count": 25, "prefix": "y-", "length": 8}, follow=True)

    batch = CodeBatch.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:discounts_promotion_batch", args=[batch.pk])
    assert messages_of(response) == ["25 single-use codes made for “Yalda night”."]
    html = response.content.decode()
    first = DiscountCode.objects.filter(batch=batch).order_by("id").values_list("code", flat=True)
    for code in first[:10]:
        assert f"<code>{code}</code>" in html
    assert f"<code>{first[10]}</code>" not in html, "the first ten only; the file has them all"
    assert reverse("admin:discounts_promotion_batch_csv", args=[batch.pk]) in html
    assert "Download all 25 codes (CSV)" in html


def test_a_wrong_count_is_refused_with_the_form_again(admin_client):
    promo = promotion()

    response = admin_client.post(reverse("admin:discounts_promotion_generate", args=[promo.pk]), {"count": 0})

    assert response.status_code == 400
    assert response.context["form"].errors["count"]
    assert not CodeBatch.objects.exists()


def test_the_bulk_generate_action_says_what_it_made_per_promotion(admin_client):
    one, two = promotion(name="One"), promotion(name="Two")

    response = action(admin_client, "generate_codes", [one, two], apply="1", count=1, prefix="", length=8)

    assert response.status_code == 200
    assert sorted(messages_of(response)) == ["1 single-use code made for “One”.", "1 single-use code made for “Two”."]


def test_codes_for_an_automatic_promotion_are_refused_in_a_sentence(admin_client):
    automatic = promotion(name="Summer", requires_code=False)

    response = act(admin_client, "generate_codes", [automatic], apply="1", count=5, length=8)

    assert messages_of(response) == ["No codes were made: “Summer” applies without a code, so codes would do nothing."]


def test_switching_promotions_on_and_off_says_how_many(admin_client):
    one, two = promotion(name="One", is_active=False), promotion(name="Two", is_active=False)

    on = act(admin_client, "activate", [one, two])
    off = act(admin_client, "deactivate", [one])

    assert messages_of(on) == ["2 promotions switched on."]
    assert messages_of(off) == ["1 promotion switched off."]
    assert Promotion.objects.filter(is_active=True).get() == two


def test_the_status_column_says_the_window(admin_client):
    now = timezone.now()
    promotion(name="Later", starts_at=now + dt.timedelta(days=2), ends_at=now + dt.timedelta(days=9),
              value=Decimal("5"))  # fmt: skip

    html = admin_client.get(reverse("admin:discounts_promotion_changelist")).content.decode()

    assert "Scheduled" in html and "→" in html
