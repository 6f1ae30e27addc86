"""Staff who may only look cannot act: bulk actions need the change permission, discount codes the
permission to view codes (as the API), and the staff APIs check HEAD as they check GET."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from marketing.discounts.models import DiscountCode, Promotion
from tests.factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def staff_with(*perms):
    user = UserFactory(is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return user


@pytest.mark.parametrize("action", ["activate", "deactivate", "set_stock"])
def test_staff_who_only_view_products_cannot_change_them_in_bulk(client, action):
    product = ProductFactory(stock=10, is_active=action != "activate")
    client.force_login(staff_with("catalog.view_product"))

    client.post(
        reverse("admin:catalog_product_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [product.pk], "stock": "0", "apply": "1"},
    )

    product.refresh_from_db()
    assert (product.is_active, product.stock) == (action != "activate", 10)


@pytest.mark.parametrize(("action", "status"), [("cancel_orders", "paid"), ("mark_delivered", "shipped")])
def test_staff_who_only_view_orders_cannot_cancel_or_deliver_them(client, customer, action, status):
    from django.utils import timezone

    order = OrderFactory(user=customer, status=status, placed_at=timezone.now())
    client.force_login(staff_with("orders.view_order"))

    page = client.get(reverse("admin:orders_order_changelist")).content.decode()
    client.post(reverse("admin:orders_order_changelist"), {"action": action, ACTION_CHECKBOX_NAME: [order.pk]})

    order.refresh_from_db()
    assert order.status == status
    assert f'value="{action}"' not in page  # not offered either


def test_discount_codes_need_the_permission_to_view_codes_in_the_admin_as_in_the_api(client):
    promotion = Promotion.objects.create(name="Spring", kind="percentage", value=10)
    DiscountCode.objects.create(promotion=promotion, code="SECRET20")
    url = reverse("admin:discounts_promotion_changelist")
    client.force_login(staff_with("discounts.view_promotion"))

    refused = client.post(url, {"action": "export_codes", ACTION_CHECKBOX_NAME: [promotion.pk]})
    assert not refused["Content-Type"].startswith("text/csv")  # no file of codes (the action is not offered)

    client.force_login(staff_with("discounts.view_promotion", "discounts.view_discountcode"))
    allowed = client.post(url, {"action": "export_codes", ACTION_CHECKBOX_NAME: [promotion.pk]})
    assert allowed["Content-Type"].startswith("text/csv")
    assert "SECRET20" in b"".join(allowed.streaming_content).decode()


def test_a_head_request_is_refused_where_a_get_is(api_as):
    clerk = api_as(UserFactory(is_staff=True))
    for path in ("/api/v1/marketing/campaigns/", "/api/v1/promotions/"):
        assert (clerk.get(path).status_code, clerk.head(path).status_code) == (403, 403), path
