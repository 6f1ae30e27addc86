import datetime as dt

import pytest
from django.utils import timezone

from marketing.analytics.models import Event
from marketing.campaigns import rules, segments
from marketing.discounts import segments as discount_segments
from tests.factories import CategoryFactory, OrderFactory, ProductFactory
from tests.marketing.campaigns.helpers import customer, days_ago, segment

pytestmark = pytest.mark.django_db


def emails(seg) -> set[str]:
    return set(segments.members(seg).values_list("email", flat=True))


@pytest.fixture
def people():
    today = timezone.localdate()
    ada = customer(
        "ada@example.org", country="US", city="Austin", gender="female", birthday=today.replace(year=today.year - 30)
    )
    bo = customer(
        "bo@example.org",
        consents=(),
        country="FR",
        city="Paris",
        gender="male",
        birthday=today.replace(year=today.year - 45),
    )
    cy = customer("cy@example.org", consents=("email", "sms"), country="US", city="Boston", phone="+14155550100")
    OrderFactory(user=ada, total="120.00", subtotal="120.00", placed_at=days_ago(10), status="paid")
    OrderFactory(user=ada, total="30.00", subtotal="30.00", placed_at=days_ago(200), status="delivered")
    OrderFactory(user=bo, total="500.00", subtotal="500.00", placed_at=days_ago(400), status="paid")
    OrderFactory(user=cy, total="999.00", subtotal="999.00", placed_at=days_ago(5), status="refunded")
    return ada, bo, cy


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (("country", "is", "US"), {"ada", "cy"}),
        (("country", "is_not", "us"), {"bo"}),
        (("city", "in", "Paris, Boston"), {"bo", "cy"}),
        (("gender", "is", "female"), {"ada"}),
        (("age", "between", "25-34"), {"ada"}),
        (("age", "gte", "40"), {"bo"}),
        (("order_count", "gte", "2"), {"ada"}),
        (("order_count", "lte", "0"), {"cy"}),  # a refunded order does not count
        (("total_spend", "gte", "150"), {"ada", "bo"}),
        (("total_spend", "lte", "149.99"), {"cy"}),
        (("average_order", "gte", "100"), {"bo"}),
        (("last_order", "within", "", 30), {"ada"}),
        (("last_order", "before", "", 365), {"bo"}),
        (("last_order", "never", ""), {"cy"}),
        (("consent", "is", "sms"), {"cy"}),
        (("consent", "is_not", "email"), {"bo"}),
    ],
)
def test_it_finds_the_known_customers_of_each_rule(people, rule, expected):
    seg = segment(rules=[rule])

    assert emails(seg) == {f"{name}@example.org" for name in expected}


def test_it_combines_rules_with_all_or_any(people):
    both = segment("both", rules=[("country", "is", "US"), ("order_count", "gte", "1")])
    either = segment("either", match="any", rules=[("country", "is", "FR"), ("consent", "is", "sms")])

    assert emails(both) == {"ada@example.org"}
    assert emails(either) == {"bo@example.org", "cy@example.org"}


def test_a_rule_can_name_another_segment_so_and_and_or_nest(people):
    segment("fr-or-sms", match="any", rules=[("country", "is", "FR"), ("consent", "is", "sms")])
    nested = segment("nested", rules=[("segment", "is", "fr-or-sms"), ("order_count", "gte", "1")])

    assert emails(nested) == {"bo@example.org"}


def test_it_refuses_a_segment_that_contains_itself():
    a = segment("a", rules=[("segment", "is", "b")])
    segment("b", rules=[("segment", "is", "a")])

    with pytest.raises(rules.RuleError, match="cannot contain itself"):
        segments.members(a).count()


def test_behaviour_rules_read_the_event_log_by_category_and_days(people):
    ada, bo, _cy = people
    shoes = CategoryFactory(name="Shoes", slug="shoes")
    boots = ProductFactory(category=CategoryFactory(name="Boots", slug="boots", parent=shoes))
    now = timezone.now()
    Event.objects.create(name="view_item", at=now, day=now.date(), customer=ada, product=boots)
    Event.objects.create(name="add_to_cart", at=days_ago(40), day=days_ago(40).date(), customer=bo, product=boots)

    assert emails(segment("v", rules=[("viewed", "did", "shoes", 7)])) == {"ada@example.org"}
    assert emails(segment("c", rules=[("added_to_cart", "did", "", 60)])) == {"bo@example.org"}
    assert emails(segment("c7", rules=[("added_to_cart", "did", "", 7)])) == set()
    assert "ada@example.org" not in emails(segment("nv", rules=[("viewed", "did_not", "shoes")]))


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (("viewed", "did", "no-such-category"), "No category"),
        (("order_count", "gte", "many"), "Enter a number"),
        (("age", "between", "40-20"), "lower age first"),
        (("last_order", "within", ""), "how many days"),
        (("country", "gte", "US"), "cannot be tested"),
    ],
)
def test_a_rule_that_cannot_be_read_says_what_to_change(rule, message):
    field, op, value = rule
    with pytest.raises(rules.RuleError, match=message):
        rules.rule_q(field_key=field, operator=op, value=value, days=None, ctx=rules.Context(now=timezone.now()))


def test_staff_and_inactive_accounts_are_never_members(people, staff):
    ada, *_ = people
    ada.is_active = False
    ada.save()

    assert emails(segment()) == {"bo@example.org", "cy@example.org"}


def test_a_promotion_only_for_a_segment_asks_the_campaigns_app(people):
    ada, bo, _cy = people
    segment("big-spenders", rules=[("total_spend", "gte", "150")])

    assert discount_segments.is_member("big-spenders", ada) is True
    assert discount_segments.is_member("big-spenders", _cy) is False
    assert discount_segments.is_member("unknown", ada) is False
    assert ("big-spenders", "Big-Spenders") in discount_segments.choices()


def test_a_birthday_on_the_29th_of_february_does_not_break_an_age_rule(people):
    seg = segment(rules=[("age", "gte", "18")])
    leap = dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC)

    assert segments.members(seg, now=leap).count() >= 1
