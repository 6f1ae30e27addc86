import csv
import io
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shop.accounts.models import Profile
from shop.accounts.services import consent_set
from shop.catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory, ProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:catalog_product_changelist")
IMPORT = reverse("admin:catalog_product_import")
CUSTOMERS = reverse("admin:accounts_user_changelist")
HEADER = "sku,name,slug,category,price,compare_at_price,stock,is_active,is_featured,description\n"


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def catalog():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=clothing)
    beauty = CategoryFactory(name="Beauty", slug="beauty")
    return {
        "out": ProductFactory(name="Empty Dress", sku="OUT-1", category=dresses, stock=0),
        "low": ProductFactory(name="Rare Coat", sku="LOW-1", category=clothing, stock=2),
        "sale": ProductFactory(
            name="Sale Lipstick", sku="SALE-1", category=beauty, price=Decimal("8.00"), compare_at_price=Decimal("10")
        ),
        "plenty": ProductFactory(name="Common Serum", sku="PLN-1", category=beauty, stock=100),
    }


def listed(response) -> set[str]:
    return {p.sku for p in response.context["cl"].result_list}


def upload(text: str, name="products.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def run_action(client, action, products, **extra):
    return client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in products], **extra})


# Access


def test_it_lets_staff_log_into_the_admin(client, staff, password):
    response = client.post(
        reverse("admin:login") + "?next=/admin/", {"username": "STAFF@example.org", "password": password}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_it_keeps_customers_out_of_the_admin(client, customer, password):
    response = client.post(reverse("admin:login") + "?next=/admin/", {"username": customer.email, "password": password})
    assert response.status_code == 200  # the login form again, with an error
    assert "staff account" in response.content.decode()

    client.force_login(customer)
    for url in ("/admin/", CHANGELIST, IMPORT, CUSTOMERS):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_it_does_not_let_a_customer_run_an_action(client, customer, catalog):
    client.force_login(customer)

    response = run_action(client, "deactivate", [catalog["plenty"]])

    assert response.status_code == 302
    catalog["plenty"].refresh_from_db()
    assert catalog["plenty"].is_active


# Product changelist


def test_it_lists_products_with_stock_figures(admin_client, catalog):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert listed(response) == {"OUT-1", "LOW-1", "SALE-1", "PLN-1"}
    stats = response.context["stats"]
    assert stats["count"] == 4
    assert stats["out_of_stock"] == 1
    assert stats["on_sale"] == 1
    assert stats["units"] == 0 + 2 + 10 + 100
    assert "Import CSV" in response.content.decode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [("out", {"OUT-1"}), ("low", {"LOW-1"}), ("in", {"LOW-1", "SALE-1", "PLN-1"})],
)
def test_it_filters_products_by_stock_status(admin_client, settings, catalog, status, expected):
    settings.SHOP_LOW_STOCK = 5

    response = admin_client.get(CHANGELIST, {"stock_status": status})

    assert response.status_code == 200
    assert listed(response) == expected


@pytest.mark.parametrize(("value", "expected"), [("yes", {"SALE-1"}), ("no", {"OUT-1", "LOW-1", "PLN-1"})])
def test_it_filters_products_on_sale(admin_client, catalog, value, expected):
    assert listed(admin_client.get(CHANGELIST, {"on_sale": value})) == expected


def test_it_filters_by_a_category_including_its_sub_categories(admin_client, catalog):
    response = admin_client.get(CHANGELIST, {"in_category": "clothing"})

    assert listed(response) == {"OUT-1", "LOW-1"}
    assert listed(admin_client.get(CHANGELIST, {"in_category": "dresses"})) == {"OUT-1"}
    assert "— Dresses" in response.content.decode()


def test_it_searches_products_by_name_and_sku(admin_client, catalog):
    assert listed(admin_client.get(CHANGELIST, {"q": "lipstick"})) == {"SALE-1"}
    assert listed(admin_client.get(CHANGELIST, {"q": "LOW-1"})) == {"LOW-1"}


def test_it_opens_a_product_change_form(admin_client, catalog):
    response = admin_client.get(reverse("admin:catalog_product_change", args=[catalog["sale"].pk]))

    assert response.status_code == 200
    assert "Sale Lipstick" in response.content.decode()


# Bulk actions


def test_it_deactivates_and_activates_selected_products(admin_client, catalog):
    chosen = [catalog["out"], catalog["low"]]

    response = run_action(admin_client, "deactivate", chosen)

    assert response.status_code == 302
    assert set(Product.objects.filter(is_active=False).values_list("sku", flat=True)) == {"OUT-1", "LOW-1"}
    assert "2 products deactivated." in admin_client.get(CHANGELIST).content.decode()

    run_action(admin_client, "activate", chosen)

    assert not Product.objects.filter(is_active=False).exists()


def test_it_asks_for_the_stock_before_setting_it(admin_client, catalog):
    chosen = [catalog["out"], catalog["low"]]

    response = run_action(admin_client, "set_stock", chosen)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Set the stock of 2 products:" in body
    assert 'name="apply"' in body
    for product in chosen:
        assert f'name="{ACTION_CHECKBOX_NAME}" value="{product.pk}"' in body
        product.refresh_from_db()
    assert [p.stock for p in chosen] == [0, 2]


def test_it_sets_the_stock_of_selected_products(admin_client, catalog):
    chosen = [catalog["out"], catalog["low"]]

    response = run_action(admin_client, "set_stock", chosen, stock="40", apply="Set stock")

    assert response.status_code == 302
    for product in chosen:
        product.refresh_from_db()
        assert product.stock == 40
    catalog["plenty"].refresh_from_db()
    assert catalog["plenty"].stock == 100
    assert "Stock set on 2 products." in admin_client.get(CHANGELIST).content.decode()


@pytest.mark.parametrize("stock", ["-1", "lots", ""])
def test_it_refuses_a_bad_stock_and_changes_nothing(admin_client, catalog, stock):
    response = run_action(admin_client, "set_stock", [catalog["low"]], stock=stock, apply="Set stock")

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    catalog["low"].refresh_from_db()
    assert catalog["low"].stock == 2


def test_it_exports_selected_products_to_csv(admin_client, catalog):
    response = run_action(admin_client, "export_csv", [catalog["sale"], catalog["out"]])

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:11] == [*HEADER.strip().split(","), "brand"]  # then product_type and the variant columns
    assert [r[0] for r in rows[1:]] == ["OUT-1", "SALE-1"]
    sale = rows[2]
    assert sale[1:9] == ["Sale Lipstick", catalog["sale"].slug, "beauty", "8.00", "10.00", "10", "1", "0"]


# CSV import


def test_it_shows_the_import_form(admin_client):
    response = admin_client.get(IMPORT)

    assert response.status_code == 200
    assert 'type="file"' in response.content.decode()


def test_it_imports_a_valid_file_creating_and_updating_by_sku(admin_client, catalog):
    text = HEADER + "LOW-1,Rare Coat,,clothing,99.00,,7,1,0,\nNEW-1,Face Oil,,beauty,12.50,15.00,30,1,1,Nice\n"

    response = admin_client.post(IMPORT, {"file": upload(text)})

    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    catalog["low"].refresh_from_db()
    assert (catalog["low"].price, catalog["low"].stock) == (Decimal("99.00"), 7)
    new = Product.objects.get(sku="NEW-1")
    assert (new.name, new.category.slug, new.price, new.compare_at_price) == (
        "Face Oil",
        "beauty",
        Decimal("12.50"),
        Decimal("15.00"),
    )
    assert new.is_featured
    assert "Imported: 1 created, 1 updated." in admin_client.get(CHANGELIST).content.decode()


def test_it_imports_nothing_and_reports_each_problem_when_a_row_is_bad(admin_client, catalog):
    text = HEADER + (
        "LOW-1,Rare Coat,,clothing,99.00,,7,1,0,\n"
        "NEW-1,Face Oil,,beauty,12.50,,30,1,1,\n"
        "NEW-2,Broken,,beauty,-4,,3,1,0,\n"
    )

    response = admin_client.post(IMPORT, {"file": upload(text)})

    assert response.status_code == 400
    body = response.content.decode()
    assert "1 problem found; nothing was imported." in body
    assert "<td>4</td><td>price</td><td>Ensure this value is greater than or equal to 0.</td>" in body
    catalog["low"].refresh_from_db()
    assert (catalog["low"].price, catalog["low"].stock) == (Decimal("19.99"), 2)
    assert not Product.objects.filter(sku__in=["NEW-1", "NEW-2"]).exists()


def test_it_reports_missing_columns(admin_client, catalog):
    response = admin_client.post(IMPORT, {"file": upload("sku,name\nX-1,Thing\n")})

    assert response.status_code == 400
    body = response.content.decode()
    assert "missing columns: category, price, stock" in body
    assert "<td>1</td>" in body
    assert not Product.objects.filter(sku="X-1").exists()


def test_it_asks_for_a_file(admin_client):
    # A browser always sends the CSRF token, so the form is bound even without a file.
    response = admin_client.post(IMPORT, {"csrfmiddlewaretoken": "x"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


# Customers admin


@pytest.fixture
def customers():
    consenting = UserFactory(email="fr.consent@example.org")
    ProfileFactory(user=consenting, country="FR")
    consent_set(user=consenting, channel="email", given=True, source="staff")
    ProfileFactory(user=UserFactory(email="us.noconsent@example.org"), country="US", gender="female")
    return Profile.objects.all()


def emails(response) -> set[str]:
    return {u.email for u in response.context["cl"].result_list}


def test_it_lists_customers_with_their_profiles(admin_client, customers):
    response = admin_client.get(CUSTOMERS)

    assert response.status_code == 200
    assert {"fr.consent@example.org", "us.noconsent@example.org"} <= emails(response)
    assert "Portland" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"email_consent": "1"}, {"fr.consent@example.org"}),
        ({"profile__country": "FR"}, {"fr.consent@example.org"}),
        ({"profile__gender": "female"}, {"us.noconsent@example.org"}),
    ],
)
def test_it_filters_customers_by_profile(admin_client, customers, params, expected):
    response = admin_client.get(CUSTOMERS, params)

    assert response.status_code == 200
    assert emails(response) == expected


def test_it_searches_customers_by_email(admin_client, customers):
    response = admin_client.get(CUSTOMERS, {"q": "us.noconsent"})

    assert response.status_code == 200
    assert emails(response) == {"us.noconsent@example.org"}


def test_it_opens_a_customer_with_their_profile(admin_client, customers):
    user = customers.get(country="FR").user

    response = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))

    assert response.status_code == 200
    assert "fr.consent@example.org" in response.content.decode()
