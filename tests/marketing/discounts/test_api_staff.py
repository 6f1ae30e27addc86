"""The staff's /api/v1/promotions/: Django's model permissions as in the admin, writes through the services,
and code batches bounded: small ones at once, large ones as a background job downloaded when ready."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from marketing.discounts import services
from marketing.discounts.models import CodeBatch, DiscountCode, Promotion
from marketing.discounts.tasks import fill_code_batch, resume_code_batches
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

PROMOTIONS = "/api/v1/promotions/"


def staff_with(*codenames: str):
    """A staff user (not a superuser) holding exactly these discounts permissions."""
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="discounts", codename__in=codenames))
    return user


def promotion_input(**overrides) -> dict:
    return {"name": "Spring sale", "kind": "percentage", "value": "15.00", **overrides}


def detail(promotion) -> str:
    return f"{PROMOTIONS}{promotion.pk}/"


def codes_url(promotion) -> str:
    return f"{PROMOTIONS}{promotion.pk}/codes/"


def batch_url(batch) -> str:
    return f"{PROMOTIONS}{batch.promotion_id}/code-batches/{batch.pk}/"


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


@pytest.fixture
def ten_off():
    return Promotion.objects.create(name="Ten off", kind="percentage", value=Decimal("10"))


# --- model permissions -----------------------------------------------------------------------------------------------


def test_a_staff_user_with_only_view_permission_can_read_but_not_write(api_as, ten_off):
    api = api_as(staff_with("view_promotion"))

    assert api.get(PROMOTIONS).status_code == 200
    assert api.get(detail(ten_off)).json()["name"] == "Ten off"
    created = api.post(PROMOTIONS, promotion_input(), format="json")
    edited = api.patch(detail(ten_off), {"value": "50"}, format="json")
    deleted = api.delete(detail(ten_off))

    assert (created.status_code, edited.status_code, deleted.status_code) == (403, 403, 403)
    assert created.json()["detail"] == "You do not have permission to perform this action."
    ten_off.refresh_from_db()
    assert (Promotion.objects.count(), ten_off.value) == (1, Decimal("10.00"))


def test_a_staff_user_without_view_permission_cannot_list(api_as, ten_off):
    api = api_as(staff_with("add_promotion"))

    assert api.get(PROMOTIONS).status_code == 403
    assert api.get(detail(ten_off)).status_code == 403


def test_add_permission_creates_a_promotion_through_the_service(api_as):
    dresses = CategoryFactory()
    api = api_as(staff_with("add_promotion"))

    response = api.post(PROMOTIONS, promotion_input(scope="categories", categories=[dresses.pk]), format="json")

    assert response.status_code == 201, response.content
    promotion = Promotion.objects.get()
    assert (promotion.name, promotion.value, list(promotion.categories.all())) == (
        "Spring sale",
        Decimal("15.00"),
        [dresses],
    )
    assert response.json()["categories"] == [dresses.pk]


def test_change_permission_edits_only_the_fields_sent(api_as, ten_off):
    api = api_as(staff_with("change_promotion"))
    shoes = ProductFactory()
    edit = {"value": "12.50", "scope": "products", "products": [shoes.pk]}

    response = api.patch(detail(ten_off), edit, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["products"] == [shoes.pk]
    ten_off.refresh_from_db()
    assert (ten_off.value, ten_off.scope, ten_off.name) == (Decimal("12.50"), "products", "Ten off")
    assert list(ten_off.products.all()) == [shoes]


def test_delete_permission_deletes(api_as, ten_off):
    assert api_as(staff_with("change_promotion")).delete(detail(ten_off)).status_code == 403
    assert api_as(staff_with("delete_promotion")).delete(detail(ten_off)).status_code == 204
    assert not Promotion.objects.exists()


def test_a_customer_gets_403_even_with_the_permissions_and_anonymous_401(api, api_as, ten_off):
    customer = UserFactory()
    customer.user_permissions.set(Permission.objects.filter(content_type__app_label="discounts"))

    assert api_as(customer).get(PROMOTIONS).status_code == 403
    assert api_as(customer).post(PROMOTIONS, promotion_input(), format="json").status_code == 403
    assert api_as(customer).post(codes_url(ten_off), {"count": 1}, format="json").status_code == 403
    assert api.get(PROMOTIONS).status_code == 401
    assert api.post(codes_url(ten_off), {"count": 1}, format="json").status_code == 401
    assert Promotion.objects.count() == 1
    assert not DiscountCode.objects.exists()


def test_the_promotion_list_stays_within_a_fixed_number_of_queries(api_as, django_assert_max_num_queries):
    customer, category, product = UserFactory(), CategoryFactory(), ProductFactory()
    for i in range(15):
        promotion = Promotion.objects.create(name=f"Promotion {i}", kind="percentage", value=Decimal("5"))
        promotion.categories.add(category)
        promotion.products.add(product)
        promotion.excluded_products.add(product)
        promotion.customers.add(customer)
    api = api_as(staff_with("view_promotion"))

    # Token, user permissions (2), count, page, four prefetches.
    with django_assert_max_num_queries(9):
        response = api.get(PROMOTIONS)

    assert response.status_code == 200
    assert response.json()["count"] == 15


# --- code batches ----------------------------------------------------------------------------------------------------


def test_making_codes_needs_the_add_discount_code_permission(api_as, ten_off):
    response = api_as(staff_with("view_promotion", "change_promotion")).post(
        codes_url(ten_off), {"count": 10}, format="json"
    )

    assert response.status_code == 403
    assert not CodeBatch.objects.exists()


def test_a_batch_of_10_answers_its_codes_at_once(api_as, ten_off):
    user = staff_with("view_promotion", "add_discountcode")

    response = api_as(user).post(codes_url(ten_off), {"count": 10, "prefix": "vip-"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    batch = CodeBatch.objects.get()
    assert (body["status"], body["made"], body["progress"], body["created_by"]) == ("done", 10, 100, user.pk)
    assert len(set(body["codes"])) == 10
    assert sorted(batch.codes.values_list("code", flat=True)) == body["codes"]
    assert body["download"].endswith(f"/code-batches/{batch.pk}/download/")


def test_a_batch_of_5000_runs_in_the_background_and_is_downloaded_when_ready(
    api_as, ten_off, django_capture_on_commit_callbacks
):
    user = staff_with("view_promotion", "add_discountcode", "view_discountcode")
    api = api_as(user)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(codes_url(ten_off), {"count": 5000, "prefix": "bulk-"}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert "codes" not in body
    assert (body["status"], body["made"], body["download"], body["count"]) == ("pending", 0, None, 5000)
    assert len(callbacks) == 1, "the task is queued once the batch is committed"
    batch = CodeBatch.objects.get()
    assert body["url"].endswith(batch_url(batch))

    status = api.get(batch_url(batch))
    assert status.status_code == 200
    assert (status.json()["status"], status.json()["made"], status.json()["progress"]) == ("done", 5000, 100)
    download = api.get(status.json()["download"])

    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert f'filename="codes-batch-{batch.pk}.csv"' in download["Content-Disposition"]
    rows = csv_rows(download)
    assert rows[0] == ["code", "promotion", "max_uses", "times_used", "batch", "created"]
    codes = [row[0] for row in rows[1:]]
    assert len(codes) == len(set(codes)) == 5000
    assert all(code.startswith("BULK-") for code in codes)
    assert DiscountCode.objects.filter(batch=batch, max_uses=1).count() == 5000


def test_a_batch_is_not_downloaded_before_it_is_done(api_as, ten_off):
    batch = CodeBatch.objects.create(promotion=ten_off, count=5000)
    api = api_as(staff_with("view_promotion", "view_discountcode"))

    status = api.get(batch_url(batch)).json()
    response = api.get(f"{batch_url(batch)}download/")

    assert (status["status"], status["download"]) == ("pending", None)
    assert response.status_code == 409
    assert response.json()["detail"] == "This batch is not ready yet (0 of 5,000 codes made): try again in a moment."


def test_a_csv_client_gets_csv_errors_too(api_as, ten_off):
    batch = CodeBatch.objects.create(promotion=ten_off, count=5000)

    response = api_as(staff_with("view_promotion", "view_discountcode")).get(
        f"{batch_url(batch)}download/", HTTP_ACCEPT="text/csv"
    )

    assert response.status_code == 409
    assert response.content.decode().startswith("This batch is not ready yet")


def test_reading_a_batch_needs_the_view_discount_code_permission(api_as, ten_off):
    batch = services.batch_create(promotion=ten_off, count=3)
    api = api_as(staff_with("view_promotion"))

    assert api.get(batch_url(batch)).status_code == 403
    assert api.get(f"{batch_url(batch)}download/").status_code == 403


def test_a_batch_is_found_only_under_its_own_promotion(api_as, ten_off):
    other = Promotion.objects.create(name="Other", kind="percentage", value=Decimal("5"))
    batch = services.batch_create(promotion=other, count=3)
    api = api_as(staff_with("view_promotion", "view_discountcode"))

    assert api.get(f"{PROMOTIONS}{ten_off.pk}/code-batches/{batch.pk}/").status_code == 404
    assert api.get(f"{PROMOTIONS}{ten_off.pk}/code-batches/{batch.pk}/download/").status_code == 404
    assert api.get(f"{PROMOTIONS}{ten_off.pk}/code-batches/999999/").status_code == 404


def test_a_batch_above_the_hard_maximum_is_a_400(api_as, ten_off, settings):
    response = api_as(staff_with("view_promotion", "add_discountcode")).post(
        codes_url(ten_off), {"count": 100_001}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "A batch has from 1 to 100,000 codes: split a larger campaign into several batches."
    )
    assert not CodeBatch.objects.exists()


def test_the_limits_are_settings(api_as, ten_off, settings):
    settings.DISCOUNT_CODE_BATCH_SYNC_MAX = 5
    settings.DISCOUNT_CODE_BATCH_MAX = 50
    api = api_as(staff_with("view_promotion", "add_discountcode"))

    assert api.post(codes_url(ten_off), {"count": 51}, format="json").status_code == 400
    assert api.post(codes_url(ten_off), {"count": 6}, format="json").status_code == 202
    assert api.post(codes_url(ten_off), {"count": 5}, format="json").status_code == 201


def test_codes_for_an_automatic_promotion_are_refused(api_as):
    automatic = Promotion.objects.create(name="Auto", kind="percentage", value=Decimal("5"), requires_code=False)

    response = api_as(staff_with("view_promotion", "add_discountcode")).post(
        codes_url(automatic), {"count": 5}, format="json"
    )

    assert response.status_code == 400
    assert "applies without a code" in response.json()["detail"]


def test_the_csv_neutralises_formula_cells(api_as):
    promotion = Promotion.objects.create(name='=HYPERLINK("http://evil.example")', kind="fixed", value=Decimal("5"))
    batch = services.batch_create(promotion=promotion, count=2, prefix="-x")

    rows = csv_rows(api_as(staff_with("view_promotion", "view_discountcode")).get(f"{batch_url(batch)}download/"))

    for row in rows[1:]:
        assert row[0].startswith("'-X")
        assert row[1] == '\'=HYPERLINK("http://evil.example")'


# --- the job: resumable, never more than asked, retried, swept -------------------------------------------------------


def test_filling_again_after_a_crash_makes_only_what_is_missing(ten_off):
    batch = CodeBatch.objects.create(promotion=ten_off, count=3000, status=CodeBatch.Status.RUNNING)
    DiscountCode.objects.bulk_create(
        [DiscountCode(promotion=ten_off, code=f"EARLY{n:04d}", max_uses=1, batch=batch) for n in range(1200)]
    )

    services.code_batch_fill(batch_id=batch.pk)
    again = services.code_batch_fill(batch_id=batch.pk)

    assert (again.status, again.made) == ("done", 3000)
    assert batch.codes.count() == 3000
    assert batch.codes.filter(code__startswith="EARLY").count() == 1200


def test_the_task_marks_the_batch_failed_after_its_retries(ten_off, monkeypatch):
    batch = CodeBatch.objects.create(promotion=ten_off, count=3000)
    calls = []

    def broken(*, batch_id):
        calls.append(batch_id)
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "code_batch_fill", broken)

    with pytest.raises(RuntimeError):
        fill_code_batch.apply(kwargs={"batch_id": batch.pk}).get()

    batch.refresh_from_db()
    assert len(calls) == fill_code_batch.max_retries + 1
    assert (batch.status, batch.error) == ("failed", "RuntimeError: disk full")


def test_the_sweep_restarts_stalled_batches_only(ten_off):
    stalled = CodeBatch.objects.create(promotion=ten_off, count=1500)
    fresh = CodeBatch.objects.create(promotion=ten_off, count=1500)
    CodeBatch.objects.filter(pk=stalled.pk).update(updated_at=timezone.now() - timedelta(minutes=11))

    assert resume_code_batches() == 1

    stalled.refresh_from_db(), fresh.refresh_from_db()
    assert (stalled.status, stalled.made) == ("done", 1500)
    assert (fresh.status, fresh.made) == ("pending", 0)


# --- the schema ------------------------------------------------------------------------------------------------------


def test_the_schema_documents_every_answer(api):
    paths = api.get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    promotion = "/api/v1/promotions/{id}/"

    def answers(path, method):
        return set(paths[path][method]["responses"])

    assert {"200", "401", "403"} <= answers("/api/v1/promotions/", "get")
    assert {"201", "400", "401", "403"} <= answers("/api/v1/promotions/", "post")
    assert {"200", "401", "403", "404"} <= answers(promotion, "get")
    assert {"200", "400", "401", "403", "404"} <= answers(promotion, "patch")
    assert {"204", "401", "403", "404", "409"} <= answers(promotion, "delete")
    assert {"201", "202", "400", "401", "403", "404"} <= answers(promotion + "codes/", "post")
    assert {"200", "401", "403", "404"} <= answers(promotion + "code-batches/{batch_id}/", "get")
    download = paths[promotion + "code-batches/{batch_id}/download/"]["get"]["responses"]
    assert {"200", "401", "403", "404", "409"} <= set(download)
    assert set(download["200"]["content"]) == {"text/csv"}
