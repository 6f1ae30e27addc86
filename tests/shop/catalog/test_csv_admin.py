"""The product CSV import and export as staff use them: the admin pages, background jobs, the command."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from shop.catalog import csv_io
from shop.catalog.models import ImportJob, Product
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:catalog_product_changelist")
IMPORT = reverse("admin:catalog_product_import")
JOBS = reverse("admin:catalog_importjob_changelist")
HEADER = "sku,name,slug,category,price,compare_at_price,stock,is_active,is_featured,description\n"


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture(autouse=True)
def clothing(db):
    return CategoryFactory(name="Clothing", slug="clothing")


@pytest.fixture
def small_threshold(monkeypatch):
    """Files of more than 3 rows go to the background; no pause between batches."""
    monkeypatch.setattr(csv_io, "BACKGROUND_ROWS", 3)
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 2)
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)


def upload(text: str | bytes, name="products.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8") if isinstance(text, str) else text, content_type="text/csv")


def rows(n: int) -> str:
    return "".join(f"J-{i},Job {i},,clothing,{i}.00,,{i},,,\n" for i in range(1, n + 1))


# Reported, not a 500


def test_a_stock_too_large_is_reported_on_the_import_page(admin_client):
    response = admin_client.post(
        IMPORT, {"file": upload(HEADER + "BIG-1,Big,,clothing,1.00,,100000000000000000000,,,\n")}
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "1 problem found; nothing was imported." in body
    assert "<td>2</td><td>stock</td><td>Ensure this value is less than or equal to 2147483647.</td>" in body
    assert not Product.objects.exists()


def test_a_generated_slug_and_a_later_rows_explicit_slug_both_import(admin_client):
    text = HEADER + "G-1,Silk Dress,,clothing,1.00,,1,,,\nG-2,Other,silk-dress-g-1,clothing,1.00,,1,,,\n"

    response = admin_client.post(IMPORT, {"file": upload(text)})

    assert response.status_code == 302
    assert dict(Product.objects.values_list("sku", "slug")) == {"G-1": "silk-dress-g-1-2", "G-2": "silk-dress-g-1"}


def test_a_bad_row_mid_file_is_reported_with_its_line_number(admin_client):
    data = (HEADER + "U-1,Fine,,clothing,1.00,,1,,,\n").encode() + "U-2,Caf\xe9,,clothing,1,,1,,,\n".encode("latin-1")

    response = admin_client.post(IMPORT, {"file": upload(data)})

    assert response.status_code == 400
    body = response.content.decode()
    assert "<td>3</td><td></td><td>Row 3 is not UTF-8 text (byte 0xe9)." in body
    assert "<td>0</td>" not in body


def test_a_file_over_the_size_limit_is_refused_by_the_form(admin_client, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_BYTES", 1024)

    response = admin_client.post(IMPORT, {"file": upload(HEADER + rows(40))})

    assert response.status_code == 200
    assert "The file is larger than 1.0\xa0KB. Split it into smaller files." in response.content.decode()
    assert not Product.objects.exists()
    assert not ImportJob.objects.exists()


# Export


def test_the_admin_export_neutralises_formula_cells_and_imports_back(admin_client):
    product = ProductFactory(sku="F-1", name='=HYPERLINK("http://x")', description="+1", category=CategoryFactory())
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [product.pk]})
    rows_out = list(csv.reader(io.StringIO(response.content.decode())))
    assert (rows_out[1][1], rows_out[1][9]) == ('\'=HYPERLINK("http://x")', "'+1")
    Product.objects.update(name="changed", description="changed")

    again = admin_client.post(IMPORT, {"file": upload(response.content)})

    assert again.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.description) == ('=HYPERLINK("http://x")', "+1")


# Big files run in the background


def test_a_big_file_becomes_a_background_job_the_page_follows(
    admin_client, staff, small_threshold, django_capture_on_commit_callbacks
):
    ProductFactory(sku="J-2", category=CategoryFactory(), price=Decimal("50.00"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(IMPORT, {"file": upload(HEADER + rows(5), name="spring.csv")})

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{IMPORT}?job={job.pk}"
    assert len(callbacks) == 1  # queued once the upload is committed
    assert (job.status, job.rows_total, job.rows_done, job.created, job.updated) == ("done", 5, 5, 4, 1)
    assert (job.filename, job.created_by) == ("spring.csv", staff)
    assert re.fullmatch(r"imports/[0-9a-f]{32}/spring\.csv", job.file.name)  # kept, at an unguessable URL
    assert Product.objects.get(sku="J-2").price == Decimal("2.00")
    page = admin_client.get(response["Location"]).content.decode()
    assert "Import of spring.csv" in page
    assert "Imported: 4 created, 1 updated." in page
    assert 'http-equiv="refresh"' not in page
    assert "spring.csv" in admin_client.get(JOBS).content.decode()


def test_a_running_job_shows_its_progress_and_refreshes(admin_client, staff):
    job = ImportJob.objects.create(filename="big.csv", status="writing", rows_total=20000, rows_done=7500)

    page = admin_client.get(f"{IMPORT}?job={job.pk}").content.decode()

    assert "7500 of 20000 rows written" in page
    assert '<progress max="20000" value="7500">37%</progress>' in page
    assert '<meta http-equiv="refresh" content="2">' in page


def test_a_big_file_with_a_bad_row_is_rejected_whole_and_its_problems_listed(
    admin_client, small_threshold, django_capture_on_commit_callbacks
):
    text = HEADER + rows(4) + "J-5,Broken,,clothing,abc,,1,,,\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(IMPORT, {"file": upload(text)})

    job = ImportJob.objects.get()
    assert (job.status, job.error_count, job.rows_done) == ("rejected", 1, 0)
    assert job.errors == [[6, "price", "Enter a number."]]
    assert not Product.objects.exists()
    page = admin_client.get(response["Location"]).content.decode()
    assert "1 problem found; nothing was imported." in page
    assert "<td>6</td><td>price</td><td>Enter a number.</td>" in page


def test_a_job_runs_once_even_if_its_task_is_delivered_twice(small_threshold, staff):
    job = ImportJob(filename="twice.csv", created_by=staff)
    job.file.save("twice.csv", io.BytesIO((HEADER + rows(4)).encode()), save=True)

    first = csv_io.import_job_run(job_id=job.pk)
    second = csv_io.import_job_run(job_id=job.pk)

    assert first.status == "done"
    assert second is None
    assert Product.objects.count() == 4


def test_a_job_that_fails_while_writing_says_which_rows_were_written(small_threshold, staff):
    job = ImportJob(filename="clash.csv", created_by=staff)
    job.file.save("clash.csv", io.BytesIO((HEADER + rows(4)).encode()), save=True)
    real_check = csv_io.check_file

    def check_then_someone_takes_a_slug(file):
        result = real_check(file)
        ProductFactory(sku="SOMEONE", slug=result.products[2].slug, category=CategoryFactory())
        return result

    with mock.patch.object(csv_io, "check_file", check_then_someone_takes_a_slug):
        csv_io.import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created) == ("failed", 2, 2)
    assert "Rows up to 3 were imported (2 created, 0 updated)" in job.errors[0][2]


def test_the_sweep_queues_forgotten_jobs_and_closes_abandoned_ones():
    old = timezone.now() - timedelta(hours=1)
    forgotten = ImportJob.objects.create(filename="a.csv", created_at=old)
    ImportJob.objects.create(filename="b.csv")  # just uploaded: its task is on its way
    abandoned = ImportJob.objects.create(filename="c.csv", status="writing", rows_done=500, updated_at=old)

    with mock.patch("shop.catalog.tasks.run_product_import.delay") as delay:
        assert csv_io.import_jobs_sweep() == 2

    delay.assert_called_once_with(job_id=forgotten.pk)
    abandoned.refresh_from_db()
    assert abandoned.status == "failed"
    assert "after 500 rows" in abandoned.message


def test_a_jobs_page_in_the_admin_lists_its_problems(admin_client):
    job = ImportJob.objects.create(
        filename="bad.csv", status="rejected", error_count=1, errors=[[7, "category", "No category “shoes”."]]
    )

    response = admin_client.get(reverse("admin:catalog_importjob_change", args=[job.pk]))

    assert response.status_code == 200
    assert "row 7, category: No category “shoes”." in response.content.decode()
    assert reverse("admin:catalog_importjob_changelist") in admin_client.get(CHANGELIST).content.decode()


def test_staff_without_product_permissions_do_not_see_imports(client):
    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)

    assert client.get(JOBS).status_code == 403


# The command


def test_the_command_imports_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)
    path = tmp_path / "products.csv"
    path.write_text(HEADER + rows(5))
    out = io.StringIO()

    call_command("import_products", str(path), "--batch-size", "2", stdout=out)

    assert "Imported: 5 created, 0 updated (3 batches)." in out.getvalue()
    assert "  4/5 rows" in out.getvalue()


def test_the_command_reports_problems_by_line(tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(b"")
    err = io.StringIO()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_products", str(path), stderr=err)

    assert "row 1: The file is empty." in err.getvalue()
