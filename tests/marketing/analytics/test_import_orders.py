"""manage.py import_orders: purchase logs become paid guest orders and daily figures, all or nothing."""

import datetime as dt
import io
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from marketing.analytics import importer, rollups
from marketing.analytics.models import BuiltDay, DailyFigure, Event
from shop.accounts.models import User
from shop.catalog.models import Category, Product
from shop.orders.models import Order, OrderEvent, OrderLine
from tests.factories import CategoryFactory, ProductFactory
from tests.variants import variant, with_variants

pytestmark = pytest.mark.django_db
D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
DAY1, DAY2 = dt.date(2025, 3, 10), dt.date(2025, 3, 11)


@pytest.fixture(autouse=True)
def store(settings):
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"
    settings.SHOP_CURRENCY = "USD"


def csv_file(tmp_path, text: str, name="orders.csv"):
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def run(*args, verbosity=1):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_orders", *map(str, args), stdout=out, stderr=err, verbosity=verbosity)
    return out.getvalue(), err.getvalue()


def refused(*args) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args)
    return str(caught.value)


def figures(day, dimension=""):
    return {
        (f.measure, f.key) if dimension else f.measure: f.value
        for f in DailyFigure.objects.filter(day=day, dimension=dimension)
    }


def nothing_written():
    return not (
        Order.objects.exists() or OrderLine.objects.exists() or DailyFigure.objects.exists() or Product.objects.exists()
    )


SMALL = """
customer_id,date,quantity,amount
a1,2025-03-10,2,20.00
b2,2025-03-10,1,5.50
a1,20250311,3,10.00
c3,2025-03-11,1,0.00
"""


def test_it_imports_a_small_csv_as_paid_delivered_guest_orders(tmp_path):
    users = User.objects.count()
    out, _err = run(csv_file(tmp_path, SMALL))

    assert "Imported 4 orders from orders.csv: 3 customers, 2025-03-10 to 2025-03-11, 35.50 revenue" in out
    assert Order.objects.count() == 4
    first = Order.objects.get(email="a1@import.invalid", paid_at__date=DAY1)
    assert (first.status, first.user_id, first.currency) == ("delivered", None, "USD")
    assert (first.subtotal, first.discount_total, first.shipping_total, first.total) == (D("20.00"), 0, 0, D("20.00"))
    noon = dt.datetime(2025, 3, 10, 12, tzinfo=BERLIN)  # noon of the store's day
    assert first.paid_at == noon and first.placed_at == noon
    assert (first.idempotency_scope, len(first.idempotency_key)) == ("import", 64)
    line = first.lines.get()
    assert (line.product_id, line.sku, line.name) == (None, "", "Imported purchase")
    assert (line.quantity, line.unit_price, line.subtotal, line.discount) == (2, D("10.00"), D("20.00"), 0)
    note = first.events.get()
    assert (note.kind, note.status, note.message) == ("note", "delivered", "Imported from orders.csv, line 2")
    assert note.created_at == noon
    free = Order.objects.get(email="c3@import.invalid")
    assert free.total == 0 and free.paid_at is not None  # a free order is still a purchase
    assert User.objects.count() == users  # no accounts invented


def test_its_daily_figures_are_built_for_the_imported_days(tmp_path):
    out, _err = run(csv_file(tmp_path, SMALL))

    assert "Built 2 days (2025-03-10 to 2025-03-11)" in out
    assert set(BuiltDay.objects.values_list("day", flat=True)) == {DAY1, DAY2}
    one, two = figures(DAY1), figures(DAY2)
    assert (one["orders"], one["revenue"], one["units"]) == (2, D("25.50"), 3)
    assert (one["new_customers"], one["returning_orders"]) == (2, 0)  # a1 and b2
    assert (two["orders"], two["revenue"], two["units"]) == (2, D("10.00"), 4)
    assert (two["new_customers"], two["returning_orders"]) == (1, 1)  # c3 new; a1 back
    # No visit placed these orders: "unknown" by source.
    assert figures(DAY1, "source") == {("orders", "unknown"): 2, ("revenue", "unknown"): D("25.50")}
    assert "/admin/analytics/dashboard/sales/?from=2025-03-10&to=2025-03-11" in out


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(tmp_path):
    tomorrow = (rollups.today() + dt.timedelta(days=1)).isoformat()
    path = csv_file(
        tmp_path,
        f"""
customer_id,date,quantity,amount,currency
ok,2025-03-10,1,5.00,USD
x,2025-02-30,1,5.00,USD
x,{tomorrow},1,5.00,USD
x,2025-03-10,-2,5.00,USD
x,2025-03-10,1,5.123,USD
x,2025-03-10,1,5.00,EUR
x,2025-03-10,1,5.00
,2025-03-10,1,5.00,USD
x,10/03/2025,0,-1.00,usd
""",
    )

    message = refused(path)

    assert "orders.csv has 8 bad rows, so nothing was imported" in message
    assert "line 2:" not in message
    assert "line 3: date 2025-02-30 does not exist" in message
    assert f"line 4: date {tomorrow} is in the future" in message
    assert "line 5: quantity '-2' is not a whole number of at least 1" in message
    assert "line 6: amount 5.123 has more than 2 decimals" in message
    assert "line 7: currency EUR is not the store's (USD)" in message
    assert "line 8: 4 values where the header has 5 columns" in message
    assert "line 9: the customer id is empty" in message
    # Every problem of a row, in one line ("usd" is the store's currency in any case).
    assert (
        "line 10: date '10/03/2025' is not written YYYY-MM-DD or YYYYMMDD; quantity '0' is not a whole number "
        "of at least 1; amount -1.00 is negative\n"
    ) in message
    assert "run the command again" in message
    assert nothing_written()


def test_a_header_without_a_required_column_is_refused_at_line_1(tmp_path):
    message = refused(csv_file(tmp_path, "customer_id,date,amount,colour\n1,2025-03-10,5.00,red\n"))
    assert "a header that cannot be read" in message
    assert "line 1: unknown column(s) 'colour'" in message
    assert "no quantity column" in message
    assert nothing_written()


def test_whitespace_columns_read_as_csv_point_to_the_cdnow_format(tmp_path):
    message = refused(
        csv_file(tmp_path, " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n")
    )
    assert "use --format cdnow" in message


def test_the_first_50_bad_rows_are_listed_and_the_rest_counted(tmp_path):
    rows = "".join(f"c{n},2025-03-10,1,1.001\n" for n in range(60))
    message = refused(csv_file(tmp_path, "customer_id,date,quantity,amount\n" + rows))
    assert "has 60 bad rows" in message
    assert "line 51:" in message and "line 52:" not in message
    assert "... and 10 more bad rows" in message
    assert nothing_written()


def test_importing_the_same_file_again_adds_nothing(tmp_path):
    path = csv_file(tmp_path, SMALL)
    run(path)
    keys = set(Order.objects.values_list("idempotency_key", flat=True))

    out, _err = run(path)

    assert "Nothing to import: all 4 rows of orders.csv are in the store already" in out
    assert set(Order.objects.values_list("idempotency_key", flat=True)) == keys
    assert OrderLine.objects.count() == OrderEvent.objects.count() == 4


def test_a_longer_file_adds_only_its_new_rows_and_identical_purchases_stay_two(tmp_path):
    run(csv_file(tmp_path, SMALL))
    longer = SMALL + "a1,2025-03-11,3,10.00\nd4,2025-03-12,1,7.25\n"  # a1's purchase of the 11th, twice

    out, _err = run(csv_file(tmp_path, longer, name="longer.csv"))

    assert "Imported 2 orders from longer.csv (4 rows imported before were skipped)" in out
    assert Order.objects.count() == 6
    assert Order.objects.filter(email="a1@import.invalid", paid_at__date=DAY2).count() == 2
    assert figures(DAY2)["orders"] == 3  # rebuilt with the new order


def test_an_import_that_meets_the_same_rows_written_meanwhile_writes_nothing(tmp_path, monkeypatch):
    path = csv_file(tmp_path, SMALL)
    run(path)
    monkeypatch.setattr(importer, "_imported_keys", lambda keys: set())  # as if another import committed after our look

    message = refused(path)

    assert "Nothing was imported: run the command again" in message
    assert Order.objects.count() == 4


def test_a_dry_run_writes_nothing(tmp_path):
    path = csv_file(
        tmp_path, "customer_id,date,quantity,amount,product,category\n1,2025-03-10,1,5.00,Blue Train,Jazz\n"
    )
    out, _err = run(path, "--dry-run")
    assert "Dry run: orders.csv has 1 good rows (1 customers, 2025-03-10 to 2025-03-10)" in out
    assert "1 orders would be imported" in out
    assert "1 new (inactive) products, 2 new categories" in out  # Jazz, under Imported
    assert nothing_written() and not Category.objects.exists() and not BuiltDay.objects.exists()


def test_products_are_found_by_sku_or_name_and_the_missing_ones_created_inactive(tmp_path):
    shoes = CategoryFactory(name="Shoes", slug="shoes")
    boot = ProductFactory(sku="BOOT-1", name="Hiking Boot", category=shoes)
    path = csv_file(
        tmp_path,
        """
customer_id,date,quantity,amount,product,category
1,2025-03-10,2,80.00,BOOT-1,
2,2025-03-10,1,40.00,hiking boot,Jazz
3,2025-03-10,3,30.00,Blue Train,Jazz
4,2025-03-10,1,9.99,,shoes
5,2025-03-11,1,12.00,blue train,
""",
    )

    run(path)

    lines = {line.order.email: line for line in OrderLine.objects.select_related("order")}
    assert lines["1@import.invalid"].product == boot and lines["1@import.invalid"].sku == "BOOT-1"
    assert lines["2@import.invalid"].product == boot  # by name, in any case; its own category stays
    train = Product.objects.get(sku="Blue Train")
    assert (train.name, train.is_active, train.stock, train.price) == ("Blue Train", False, 0, D("10.00"))
    assert train.created_at == dt.datetime(2025, 3, 10, 12, tzinfo=BERLIN)  # first bought
    assert train.category.path == "imported/jazz" and train.category.parent.name == "Imported"
    assert lines["3@import.invalid"].product == train == lines["5@import.invalid"].product
    shoe_purchase = lines["4@import.invalid"].product  # a category alone: the category's placeholder
    assert (shoe_purchase.name, shoe_purchase.category, shoe_purchase.is_active) == (
        "Imported purchase (Shoes)",
        shoes,
        False,
    )
    by_category = figures(DAY1, "category")
    assert by_category[("line_revenue", str(shoes.pk))] == D("129.99")  # 80 + 40 + 9.99
    assert by_category[("line_revenue", str(train.category_id))] == D("30.00")

    products, categories = Product.objects.count(), Category.objects.count()
    run(csv_file(tmp_path, "customer_id,date,quantity,amount,category\n9,2025-03-11,1,5.00,shoes\n", name="more.csv"))
    assert (Product.objects.count(), Category.objects.count()) == (products, categories)  # found again


def test_a_variants_sku_finds_its_size_and_colour_and_a_product_with_one_variant_gets_it(tmp_path):
    tee = with_variants(ProductFactory(sku="TEE", name="Tee"), sizes=("S", "L"), colours=("Red",))
    mug = ProductFactory(sku="MUG", name="Mug")
    path = csv_file(
        tmp_path,
        """
customer_id,date,quantity,amount,product
1,2025-03-10,1,20.00,TEE-RED-L
2,2025-03-10,1,20.00,TEE
3,2025-03-10,2,10.00,mug
4,2025-03-10,1,7.00,Kettle
""",
    )

    run(path)

    lines = {line.order.email: line for line in OrderLine.objects.select_related("order")}
    large = lines["1@import.invalid"]
    assert (large.product, large.variant, large.sku) == (tee, variant(tee, "L", "Red"), "TEE-RED-L")
    assert (large.name, large.options) == ("Tee", {"Colour": "Red", "Size": "L"})  # as checkout writes them
    some_tee = lines["2@import.invalid"]  # the product's own SKU: which size, the row does not say
    assert (some_tee.product, some_tee.variant, some_tee.sku, some_tee.options) == (tee, None, "TEE", {})
    assert lines["3@import.invalid"].variant == mug.variants.get()  # by name; its only variant
    kettle = Product.objects.get(sku="Kettle")
    assert lines["4@import.invalid"].variant == kettle.variants.get() and kettle.variants.get().sku == "Kettle"
    assert Product.objects.count() == 3  # a variant's SKU never makes a new product


def test_an_unclear_product_or_category_name_is_a_bad_row(tmp_path):
    ProductFactory(name="Mug", sku="MUG-RED")
    ProductFactory(name="Mug", sku="MUG-BLUE")
    CategoryFactory(name="Sale", slug="sale-women")
    CategoryFactory(name="Sale", slug="sale-men")
    path = csv_file(
        tmp_path,
        "customer_id,date,quantity,amount,product,category\n1,2025-03-10,1,5.00,mug,\n2,2025-03-10,1,5.00,,Sale\n",
    )

    message = refused(path)

    assert "line 2: product 'mug' is the name of 2 products (MUG-RED, MUG-BLUE): give the SKU" in message
    assert "line 3: category 'Sale' is the name of 2 categories" in message
    assert not Order.objects.exists()


def test_an_email_column_names_the_customer_and_must_agree_with_itself(tmp_path):
    header = "customer_id,date,quantity,amount,email\n"
    good = header + "7,2025-03-10,1,5.00,Ann@Example.COM\n7,2025-03-11,1,6.00,Ann@example.com\n"
    run(csv_file(tmp_path, good))
    assert set(Order.objects.values_list("email", flat=True)) == {"Ann@example.com"}
    assert figures(DAY2)["returning_orders"] == 1

    bad = header + "8,2025-03-10,1,5.00,bo@example.com\n8,2025-03-11,1,5.00,cy@example.com\n"
    message = refused(csv_file(tmp_path, bad, name="bad.csv"))
    assert "line 3: customer 8 has email cy@example.com here but bo@example.com on line 2" in message


def test_a_customer_id_that_cannot_make_an_email_is_a_bad_row(tmp_path):
    message = refused(csv_file(tmp_path, "customer_id,date,quantity,amount\nann smith,2025-03-10,1,5.00\n"))
    assert "line 2: customer id 'ann smith' cannot stand for a customer" in message


def test_the_cdnow_format_reads_a_slice_of_the_real_log(tmp_path):
    # The header and the January 1997 purchases of the first 400 lines, as they are (CRLF line ends):
    # one month, so that building its figures is quick.
    with importer.cdnow_path().open(newline="") as log:
        head = list(itertools.islice(log, 400))
    lines = [head[0], *(line for line in head[1:] if line.split()[1].startswith("199701"))]
    path = tmp_path / "cdnow.txt"
    path.write_text("".join(lines), newline="")
    rows = [line.split() for line in lines[1:]]
    assert len(rows) > 100 and lines[1] == " 00001 19970101  1   11.77\r\n"

    out, _err = run(path, "--format", "cdnow")

    assert Order.objects.count() == len(rows)
    assert sum(Order.objects.values_list("total", flat=True)) == sum(D(r[3]) for r in rows)
    assert Order.objects.filter(total=0).count() == sum(1 for r in rows if D(r[3]) == 0)
    first = Order.objects.get(email="00001@import.invalid")
    assert (first.total, first.lines.get().quantity) == (D("11.77"), 1)
    assert first.paid_at == dt.datetime(1997, 1, 1, 12, tzinfo=BERLIN)
    assert first.events.get().message == "Imported from cdnow.txt, line 2"
    for day in (dt.date(1997, 1, 1), dt.date(1997, 1, 26)):
        on_day = [r for r in rows if r[1] == day.strftime("%Y%m%d")]
        built = figures(day)
        assert (built["orders"], built["revenue"]) == (len(on_day), sum(D(r[3]) for r in on_day))
        assert built["units"] == sum(int(r[2]) for r in on_day)
    assert "Built 29 days (1997-01-01 to 1997-01-29)" in out  # to the last day the slice has
    # build_figures recorded each imported payment in the event log (with no visit).
    assert Event.objects.filter(name="purchase", visit=None).count() == len(rows)


def test_the_cdnow_shortcut_finds_the_log_and_every_row_of_it_is_good():
    out, err = run("--cdnow", "--dry-run")
    assert "CDNOW_master.txt has 69,659 good rows (23,570 customers, 1997-01-01 to 1998-06-30)" in out
    assert "checked 69,659 rows: all good" in err
    assert not Order.objects.exists()


def test_a_file_and_the_cdnow_shortcut_together_are_refused(tmp_path):
    assert "not both" in refused(csv_file(tmp_path, SMALL), "--cdnow")


def test_progress_goes_to_stderr_and_verbosity_0_says_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 2)
    rows = "".join(f"c{n},2025-03-10,1,1.00\n" for n in range(5))
    path = csv_file(tmp_path, "customer_id,date,quantity,amount\n" + rows)

    out, err = run(path)

    assert err.splitlines() == [
        "checked 2 rows",
        "checked 4 rows",
        "checked 5 rows: all good",
        "imported 2 of 5 rows",
        "imported 4 of 5 rows",
        "imported 5 of 5 rows",
    ]
    assert "imported" not in out
    Order.objects.all().delete()
    assert run(path, verbosity=0) == ("", "")
    assert Order.objects.count() == 5
