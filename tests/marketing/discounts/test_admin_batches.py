"""The admin's code batches: the promotions' action uses the same service as the API, large batches run in the
background and show their status, and a batch is downloaded once it is ready."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from marketing.discounts.models import CodeBatch, DiscountCode, Promotion
from tests.factories import UserFactory
from tests.marketing.discounts.test_admin import action, csv_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def promo():
    return Promotion.objects.create(name="Ten off", kind="percentage", value=Decimal("10"))


def test_a_large_batch_from_the_admin_runs_in_the_background_and_shows_its_status(
    admin_client, promo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = action(admin_client, "generate_codes", [promo], apply="1", count=2500, prefix="", length=8)

    assert response.status_code == 200
    html = response.content.decode()
    batch = CodeBatch.objects.get()
    assert "codes for “Ten off” are being made in the background" in html
    assert reverse("admin:discounts_codebatch_change", args=[batch.pk]) in html
    assert "Waiting" in html  # as it was when the page was made
    batch.refresh_from_db()
    assert (batch.status, batch.made) == ("done", 2500)

    listing = admin_client.get(reverse("admin:discounts_codebatch_changelist")).content.decode()
    assert "Ready" in listing
    csv_url = reverse("admin:discounts_promotion_batch_csv", args=[batch.pk])
    assert csv_url in listing
    rows = csv_rows(admin_client.get(csv_url))
    assert len(rows) == 2501 == len({row[0] for row in rows})


def test_a_batch_in_progress_shows_its_progress_and_is_not_downloaded(admin_client, promo):
    batch = CodeBatch.objects.create(
        promotion=promo, count=4000, made=1000, status=CodeBatch.Status.RUNNING, prefix="X"
    )

    page = admin_client.get(reverse("admin:discounts_codebatch_change", args=[batch.pk])).content.decode()
    download = admin_client.get(reverse("admin:discounts_promotion_batch_csv", args=[batch.pk]), follow=True)

    assert "Making codes: 1,000 of 4,000 (25%)" in page
    assert download.redirect_chain[0][0] == reverse("admin:discounts_codebatch_change", args=[batch.pk])
    assert f"Batch #{batch.pk} is not ready yet" in download.content.decode()


def test_the_admin_refuses_a_batch_above_the_hard_maximum(admin_client, promo, settings):
    settings.DISCOUNT_CODE_BATCH_MAX = 50

    response = action(admin_client, "generate_codes", [promo], apply="1", count=51, prefix="", length=8)

    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 50." in response.content.decode()
    assert not CodeBatch.objects.exists()


def test_generating_codes_in_the_admin_needs_the_add_discount_code_permission(client, promo):
    editor = UserFactory(is_staff=True)
    editor.user_permissions.set(
        Permission.objects.filter(codename__in=["view_promotion", "change_promotion", "view_codebatch"])
    )
    client.force_login(editor)

    response = action(client, "generate_codes", [promo], apply="1", count=5, prefix="", length=8)

    assert response.status_code == 302  # "no action selected": the action is not offered to them
    assert not DiscountCode.objects.exists()
    editor.user_permissions.add(Permission.objects.get(codename="add_discountcode"))
    assert action(client, "generate_codes", [promo], apply="1", count=5, prefix="", length=8).status_code == 200
    assert DiscountCode.objects.count() == 5
