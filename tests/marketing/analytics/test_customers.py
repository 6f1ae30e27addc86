"""Customers as of a day: histories, RFM scores and segments, cohorts and lifetime value, by hand."""

import datetime as dt
import importlib.util
import os
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from marketing.analytics import customers, rollups, tasks
from marketing.analytics.models import CustomerScore, CustomerSnapshot, DailyFigure, Segment
from shop.accounts.models import Profile
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = dt.date(2026, 6, 30)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def store_zone(settings, monkeypatch):
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"
    settings.SHOP_CURRENCY = "USD"
    monkeypatch.setattr(rollups, "today", lambda: TODAY)


def at(day, hour=12, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN)


def paid(day, email, total, *, refunded="0.00", hour=12, **fields):
    return OrderFactory(
        email=email, placed_at=at(day, hour), paid_at=at(day, hour), subtotal=D(total), total=D(total),
        amount_refunded=D(refunded), **fields,
    )  # fmt: skip


# --- Scores -------------------------------------------------------------------------------------------------------


def test_scores_rank_by_where_a_value_stands_and_ties_share_a_score():
    assert customers.scores(np.array([1, 2, 3, 4, 5])).tolist() == [1, 2, 3, 4, 5]
    # Most buy once: every one-order customer scores 1; above them, by the share strictly below.
    assert customers.scores(np.array([1, 1, 1, 1, 1, 1, 2, 2, 3, 9])).tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert customers.scores(np.array([7, 7, 7])).tolist() == [1, 1, 1]
    assert customers.scores(np.array([], dtype=np.int64)).tolist() == []


def test_every_pair_of_recency_and_frequency_scores_has_one_segment():
    seen = {customers.segment_of(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert seen == set(Segment.values)
    assert customers.segment_of(5, 5) == Segment.CHAMPIONS
    assert customers.segment_of(1, 1) == Segment.LOST
    assert customers.segment_of(1, 5) == Segment.CANNOT_LOSE
    assert customers.segment_of(5, 1) == Segment.NEW
    assert set(customers.SEGMENT_NOTES) == set(Segment.values)


def test_a_customers_history_by_hand():
    member = UserFactory()
    # Ann: three orders on two store days (two in one day), one partly refunded.
    paid(dt.date(2026, 1, 10), "ann@example.com", "30.00", user=member)
    paid(dt.date(2026, 1, 10), "ann@example.com", "20.00", hour=18)
    paid(dt.date(2026, 6, 20), "ann@example.com", "50.00", refunded="10.00")
    # Bob: one order, paid at 23:30 on 31 March in Berlin (21:30 UTC): the store's 31 March.
    OrderFactory(email="bob@example.com", placed_at=at(dt.date(2026, 3, 31), 23, 30),
                 paid_at=at(dt.date(2026, 3, 31), 23, 30), subtotal=D("15.00"), total=D("15.00"))  # fmt: skip
    # Not counted: never paid; paid after the day scored.
    OrderFactory(email="cy@example.com", status="cancelled", placed_at=at(dt.date(2026, 6, 1)), paid_at=None)
    paid(dt.date(2026, 7, 1), "ann@example.com", "70.00")

    snapshot = customers.score()
    assert snapshot.as_of == TODAY and snapshot.customers == 2
    ann, bob = CustomerScore.objects.get(email="ann@example.com"), CustomerScore.objects.get(email="bob@example.com")
    assert (ann.first_day, ann.last_day, ann.orders, ann.revenue) == (
        dt.date(2026, 1, 10), dt.date(2026, 6, 20), 3, D("90.00"),
    )  # fmt: skip
    assert ann.customer_id == member.pk and ann.recency == 10
    assert (bob.first_day, bob.last_day, bob.orders, bob.revenue, bob.recency) == (
        dt.date(2026, 3, 31), dt.date(2026, 3, 31), 1, D("15.00"), 91,
    )  # fmt: skip
    # Two customers: the better one scores 1 + 5 × 1/2 = 3, the other 1, on each of R, F and M.
    assert (ann.r, ann.f, ann.m, bob.r, bob.f, bob.m) == (3, 3, 3, 1, 1, 1)
    assert (ann.segment, bob.segment) == (Segment.NEED_ATTENTION, Segment.LOST)
    assert ann.predicted_value is None  # two customers: nothing to fit
    data = snapshot.data
    assert data["repeat_customers"] == 1 and data["revenue_cents"] == 10500
    cohorts = {c["month"]: c for c in data["cohorts"]}
    # Ann's cohort (January): active in month 0 and month 5 (June); Bob's (March): month 0 only.
    assert cohorts["2026-01"]["active"] == [1, 0, 0, 0, 0, 1]
    assert cohorts["2026-01"]["cents"] == [5000, 0, 0, 0, 0, 4000]
    assert cohorts["2026-03"]["active"] == [1]
    segments = {s["key"]: s for s in data["segments"]}
    assert segments["lost"]["customers"] == 1 and segments["lost"]["cents"] == 1500
    assert data["clv"]["fitted"] is False and data["check"] is None


def test_scoring_replaces_the_scores_whole_and_keeps_one_snapshot_a_day():
    paid(dt.date(2026, 6, 1), "ann@example.com", "10.00")
    customers.score()
    CustomerScore.objects.update(segment=Segment.LOST)
    paid(dt.date(2026, 6, 2), "bob@example.com", "10.00")
    customers.score()
    assert CustomerScore.objects.count() == 2
    assert CustomerSnapshot.objects.count() == 1
    assert not customers.stale()


def test_no_orders_scores_nobody():
    snapshot = customers.score()
    assert snapshot.customers == 0 and snapshot.data["cohorts"] == []
    assert CustomerScore.objects.count() == 0


def test_the_job_scores_once_a_day_and_the_command_every_time(capsys):
    paid(dt.date(2026, 6, 1), "ann@example.com", "10.00")
    tasks.build_figures()
    first = CustomerSnapshot.objects.get().built_at
    tasks.build_figures()
    assert CustomerSnapshot.objects.get().built_at == first  # the hourly job does not score again today
    call_command("build_figures", "--from", "2026-06-01", "--to", "2026-06-01")
    assert CustomerSnapshot.objects.get().built_at > first
    assert "Scored 1 customers" in capsys.readouterr().out


# --- Lifetime value ------------------------------------------------------------------------------------------------


def _store_of(rng, customers_count=120):
    """Customers with a pace each, some leaving after a while: enough repeat buyers to fit the models."""
    start = TODAY - dt.timedelta(days=540)
    for n in range(customers_count):
        day = start + dt.timedelta(days=int(rng.integers(0, 300)))
        pace = int(rng.integers(15, 90))
        leaves = day + dt.timedelta(days=int(rng.integers(30, 600)))
        while day <= min(TODAY, leaves):
            paid(day, f"c{n}@example.com", f"{rng.integers(20, 80)}.00")
            day += dt.timedelta(days=pace)


def test_lifetime_value_is_predicted_and_checked_on_the_past():
    _store_of(np.random.default_rng(7))
    snapshot = customers.score()
    clv = snapshot.data["clv"]
    assert clv["fitted"] is True and clv["method"] in {
        "BG/NBD + Gamma-Gamma", "NBD + Gamma-Gamma", "BG/NBD + average repeat order", "NBD + average repeat order",
    }  # fmt: skip
    scores = list(CustomerScore.objects.all())
    assert all(s.predicted_value is not None and s.predicted_value >= 0 for s in scores)
    assert all(D(0) <= s.alive <= D(1) for s in scores)
    # Someone still buying every few weeks is worth more ahead than someone gone a year.
    by_recency = sorted(scores, key=lambda s: (s.recency, -s.orders))
    assert by_recency[0].predicted_value > by_recency[-1].predicted_value
    check = snapshot.data["check"]
    assert check["days"] == customers.HOLDOUT_DAYS and check["customers"] > 0
    assert check["actual"] > 0 and check["predicted"] > 0


def test_lifetime_value_is_not_fitted_on_too_few_returning_customers():
    for n in range(10):
        paid(dt.date(2026, 1, 1), f"c{n}@example.com", "10.00")
        paid(dt.date(2026, 3, 1), f"c{n}@example.com", "10.00")
    snapshot = customers.score()
    assert snapshot.data["clv"]["fitted"] is False
    assert not CustomerScore.objects.exclude(predicted_value=None).exists()


def test_the_models_inputs_match_lifetimes_own_summary_on_the_cdnow_log():
    """Our per-customer arrays against lifetimes' summary_data_from_transaction_data, on real purchases."""
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    path = os.path.join(importlib.util.find_spec("lifetimes").submodule_search_locations[0], "datasets",
                        "CDNOW_master.txt")  # fmt: skip
    frame = pd.read_csv(path, sep=r"\s+", skiprows=1, header=None, names=["customer", "date", "cds", "amount"],
                        nrows=3000, dtype={"customer": str, "date": str})  # fmt: skip
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    end = dt.date(1998, 6, 30)
    expected = summary_data_from_transaction_data(
        frame, "customer", "date", monetary_value_col="amount", observation_period_end=end.isoformat(), freq="D"
    )
    emails = list(dict.fromkeys(frame["customer"]))
    index = {e: n for n, e in enumerate(emails)}
    day = frame.groupby(["customer", "date"], sort=False)["amount"].sum().reset_index()
    history = customers.History(
        emails, [None] * len(emails),
        np.array([index[c] for c in day["customer"]]), np.array([d.toordinal() for d in day["date"].dt.date]),
        np.round(day["amount"].to_numpy() * 100).astype(np.int64), np.ones(len(day), dtype=np.int64),
    )  # fmt: skip
    frequency, recency, age, monetary = customers._inputs(history.per_customer(), end.toordinal(), 0.01)
    order = [index[c] for c in expected.index]
    assert np.array_equal(frequency[order], expected["frequency"].to_numpy())
    assert np.array_equal(recency[order], expected["recency"].to_numpy())
    assert np.array_equal(age[order], expected["T"].to_numpy())
    assert np.allclose(monetary[order], expected["monetary_value"].to_numpy(), atol=0.005)


# --- People crossed, on the daily figures ----------------------------------------------------------------------------


def test_orders_by_region_age_band_and_gender_two_at_a_time():
    day = dt.date(2026, 6, 10)
    young = UserFactory()
    Profile.objects.create(user=young, birthday=dt.date(2001, 6, 11), gender="female")  # 25 the day after
    paid(day, young.email, "30.00", user=young, shipping_country="US", shipping_region="CA")
    paid(day, young.email, "20.00", user=young, shipping_country="US", shipping_region="CA")
    paid(day, "guest@example.com", "15.00", shipping_country="GB", shipping_region="")
    rollups.build_day(day)

    def cells(dimension):
        return {(f.measure, f.key): f.value for f in DailyFigure.objects.filter(day=day, dimension=dimension)}

    assert cells("region×age") == {
        ("orders", "US-CA|18–24"): 2, ("revenue", "US-CA|18–24"): D("50.00"),
        ("orders", "GB|unknown"): 1, ("revenue", "GB|unknown"): D("15.00"),
    }  # fmt: skip
    assert cells("age×gender")[("revenue", "18–24|female")] == D("50.00")
    assert cells("region×gender")[("orders", "GB|unknown")] == 1


def test_age_bands():
    on = dt.date(2026, 6, 10)
    assert rollups.age_band(None, on) == "unknown"
    assert rollups.age_band(dt.date(2010, 1, 1), on) == "under 18"
    assert rollups.age_band(dt.date(2008, 6, 10), on) == "18–24"  # 18 that day
    assert rollups.age_band(dt.date(2001, 6, 11), on) == "18–24"  # 25 tomorrow
    assert rollups.age_band(dt.date(1961, 6, 10), on) == "65+"


def test_a_log_that_ended_long_ago_is_scored_as_of_its_last_day_for_its_periods(capsys):
    paid(dt.date(1998, 1, 10), "ann@example.com", "30.00")
    paid(dt.date(1998, 6, 20), "ann@example.com", "40.00")
    paid(dt.date(1998, 6, 29), "bob@example.com", "15.00")
    call_command("build_figures", "--from", "1998-06-01", "--to", "1998-06-30", "--score-as-of", "1998-06-30")
    then = CustomerSnapshot.objects.get(as_of=dt.date(1998, 6, 30))
    assert then.chosen and CustomerSnapshot.objects.get(as_of=TODAY).chosen is False
    # The rows are today's (everyone gone for decades); the chosen day's figures are in its snapshot.
    assert min(CustomerScore.objects.values_list("recency", flat=True)) > 10_000
    recency = [seg["recency"] for seg in then.data["segments"] if seg["customers"]]
    assert recency and max(recency) <= 10  # as of 30 June 1998 both had bought within days
    assert customers.latest(by=dt.date(1998, 6, 30)) == then
    assert customers.latest(by=dt.date(2026, 6, 1)) == then  # the last made by then
    assert customers.latest(by=TODAY).as_of == TODAY
    assert customers.latest(by=dt.date(1990, 1, 1)) == then  # before any snapshot: the first one
    # The daily scoring keeps a chosen day's snapshot however old.
    customers.score()
    assert CustomerSnapshot.objects.filter(as_of=dt.date(1998, 6, 30)).exists()
    with pytest.raises(CommandError, match="has not ended yet"):
        call_command("build_figures", "--score-as-of", TODAY.isoformat())


def test_the_hourly_job_looks_back_a_limited_number_of_days(monkeypatch):
    paid(dt.date(1998, 1, 10), "ann@example.com", "30.00")
    days = rollups.days_to_build()
    assert days[0] == TODAY - dt.timedelta(days=1 + rollups.LOOKBACK_DAYS)
    assert rollups.days_to_build(since=dt.date(1998, 1, 10))[0] == dt.date(1998, 1, 10)
