"""Customers as of a day: their history, RFM segments, cohorts and lifetime value.

Scored once a day (tasks.build_figures after midnight, `manage.py build_figures`, the demo and
`import_orders`), never per request: one pass over the paid orders, streamed into arrays, then
everything is arithmetic on those arrays. The results replace the `CustomerScore` rows and add a
`CustomerSnapshot`, in one transaction. What each figure means is written on the dashboard too:

- A customer is an email (guests count); an order counts from the day it was paid (a store day),
  its value is what the customer paid less what was refunded.
- RFM: recency (days since the last order), frequency (orders) and monetary value (spent), each
  scored 1 to 5 by where the customer stands among all customers: 1 + 5 × the share of customers
  strictly worse, so equal customers always share a score (and in a store where most buy once,
  every one-order customer scores F 1). Segments come from the R and F scores (`SEGMENTS`).
- Cohorts: customers by the month of their first order; for each month after it, the share of the
  cohort that ordered again in that month.
- Lifetime value: historical (what they have paid so far) and predicted for the next
  ANALYTICS_CLV_MONTHS months with BG/NBD (how many orders a customer still alive places, and the
  chance they still are, from frequency, recency and age) and Gamma-Gamma (the value of their
  orders, from their average order), fitted by the `lifetimes` package. Predicted value = expected
  orders × expected order value, undiscounted. The model is checked on the past: fitted on the
  history up to HOLDOUT_DAYS before the day, it predicts the orders of those days, compared with
  what customers really did and with a naive guess (each customer keeps their past pace).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import math
import warnings
from array import array
from collections.abc import Iterable
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketing.analytics import rollups
from marketing.analytics.models import CustomerScore, CustomerSnapshot, Segment
from shop.core.money import decimal_places
from shop.orders.models import Order

log = logging.getLogger(__name__)

HOLDOUT_DAYS = 182
KEEP_DAYS = 400  # the daily snapshots kept (chosen days' are kept for good)
TOP = 10  # the customers with the highest predicted value, named in each snapshot
MIN_REPEAT_CUSTOMERS = 20  # fewer repeat customers than this and the models are not fitted
CHUNK = 20_000

# (segment, R scores, F scores): the common grid read from recency and frequency.
SEGMENTS = [
    (Segment.CHAMPIONS, {5}, {4, 5}),
    (Segment.LOYAL, {3, 4}, {4, 5}),
    (Segment.POTENTIAL, {4, 5}, {2, 3}),
    (Segment.NEW, {5}, {1}),
    (Segment.PROMISING, {4}, {1}),
    (Segment.NEED_ATTENTION, {3}, {3}),
    (Segment.ABOUT_TO_SLEEP, {3}, {1, 2}),
    (Segment.CANNOT_LOSE, {1, 2}, {5}),
    (Segment.AT_RISK, {1, 2}, {3, 4}),
    (Segment.HIBERNATING, {2}, {1, 2}),
    (Segment.LOST, {1}, {1, 2}),
]
SEGMENT_NOTES = {
    Segment.CHAMPIONS: _("Bought recently and often. Reward them; ask for reviews and referrals."),
    Segment.LOYAL: _("Buy often. Offer the loyalty tiers and new products first."),
    Segment.POTENTIAL: _("Recent, a few orders. A membership or a second-order offer can make them loyal."),
    Segment.NEW: _("First order, very recent. Welcome them; help with the first weeks."),
    Segment.PROMISING: _("First order, fairly recent. Remind them what else the store has."),
    Segment.NEED_ATTENTION: _("Average in recency and frequency. A limited-time offer on what they like."),
    Segment.ABOUT_TO_SLEEP: _("Few orders, not lately. Recommendations and a reason to come back."),
    Segment.CANNOT_LOSE: _("Bought the most, long ago. Win them back personally, not with a coupon blast."),
    Segment.AT_RISK: _("Bought often, not lately. A personal offer before they are gone."),
    Segment.HIBERNATING: _("Few orders, long ago. Only the best offers; do not spam them."),
    Segment.LOST: _("One or two orders, longest ago. Let them be unless a campaign costs nothing."),
}
_SEGMENT_OF = {(r, f): seg for seg, rs, fs in SEGMENTS for r in rs for f in fs}


def segment_of(r: int, f: int) -> str:
    return _SEGMENT_OF[(r, f)]


def scores(values: np.ndarray) -> np.ndarray:
    """1 to 5 by where each value stands: 1 + 5 × the share of values strictly below it (ties share a score)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    below = np.searchsorted(np.sort(values), values, side="left")
    return np.minimum(5, 1 + (5 * below) // len(values)).astype(np.int64)


class History:
    """The paid orders as arrays: one entry per (customer, day they paid for something)."""

    def __init__(self, emails: list[str], users: list[int | None], customer: np.ndarray, day: np.ndarray,
                 cents: np.ndarray, orders: np.ndarray):  # fmt: skip
        self.emails, self.users = emails, users
        self.customer, self.day, self.cents, self.orders = customer, day, cents, orders

    @classmethod
    def load(cls, until: dt.date) -> History:
        """Orders paid up to the end of store day `until`, in CHUNK-row pieces (memory stays flat)."""
        end = rollups.day_window(until)[1]
        places = decimal_places(settings.SHOP_CURRENCY)
        index: dict[str, int] = {}
        users: list[int | None] = []
        customer, day, cents = array("q"), array("q"), array("q")
        rows = (
            Order.objects.filter(paid_at__lt=end)
            .exclude(paid_at=None)
            .annotate(paid_day=rollups._store_date("paid_at"), kept=F("total") - F("amount_refunded"))
            .values_list("email", "user_id", "paid_day", "kept")
            .order_by()
            .iterator(chunk_size=CHUNK)
        )
        for email, user_id, paid_day, kept in rows:
            n = index.get(email)
            if n is None:
                n = index[email] = len(users)
                users.append(user_id)
            elif user_id is not None:
                users[n] = user_id
            customer.append(n)
            day.append(paid_day.toordinal())
            cents.append(int(Decimal(kept).scaleb(places)))
        # One entry per customer and day: the day's orders and what they paid, summed.
        pairs = np.frombuffer(customer, dtype=np.int64) * 4_000_000 + np.frombuffer(day, dtype=np.int64)
        keys, where = np.unique(pairs, return_inverse=True)
        paid = np.bincount(where, weights=np.frombuffer(cents, dtype=np.int64)).astype(np.int64)
        orders = np.bincount(where).astype(np.int64)
        customer, day = keys // 4_000_000, keys % 4_000_000
        return cls(list(index), users, customer, day, paid, orders)

    def __len__(self):
        return len(self.emails)

    def before(self, last_day: int) -> History:
        """The history up to an earlier day (ordinal, included): what was known then."""
        keep = self.day <= last_day
        return History(self.emails, self.users, self.customer[keep], self.day[keep], self.cents[keep],
                       self.orders[keep])  # fmt: skip

    def per_customer(self) -> dict[str, np.ndarray]:
        """first and last day, orders, purchase days and cents paid (all, and on the first day), by customer."""
        n = len(self.emails)
        first = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(first, self.customer, self.day)
        last = np.full(n, -1)
        np.maximum.at(last, self.customer, self.day)
        seen = last >= 0
        on_first = self.day == first[self.customer]
        return {
            "seen": seen,
            "first": first,
            "last": last,
            "orders": np.bincount(self.customer, weights=self.orders, minlength=n).astype(np.int64),
            "days": np.bincount(self.customer, minlength=n),
            "cents": np.bincount(self.customer, weights=self.cents, minlength=n).astype(np.int64),
            "first_cents": np.bincount(self.customer[on_first], weights=self.cents[on_first], minlength=n),
        }


class Model:
    """How many orders each customer will place, and their value: BG/NBD with Gamma-Gamma.

    BG/NBD (Fader, Hardie and Lee, 2005) reads each customer's repeat purchase days (frequency),
    the days from their first to their last (recency) and since their first (age): customers buy at
    their own pace until, after some purchase, they leave for good. When a history shows no
    leaving (the fitted chance of leaving after a purchase comes out as nothing, or the fit does not
    converge), the model is the NBD it reduces to: every customer stays and buys at their pace,
    expected orders = (r + frequency) / (alpha + age) × days. Gamma-Gamma gives each customer's
    expected order value from their repeat orders' average, pulled towards the store's; when it
    cannot be fitted, the store's average repeat order is used. `method` says which was used.
    """

    def __init__(self, frequency, recency, age, monetary):
        from lifetimes import BetaGeoFitter

        # Customers with the same (frequency, recency, age) are one row with a weight: much faster to fit.
        unique, weights = np.unique(np.stack([frequency, recency, age], axis=1), axis=0, return_counts=True)
        self.bgf = None
        try:
            # lifetimes prints the optimiser's report on failure; its search tries logs of negatives on the way.
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                bgf = BetaGeoFitter(penalizer_coef=0.001).fit(unique[:, 0], unique[:, 1], unique[:, 2], weights=weights)
            params = bgf.params_
            if (
                min(params["a"], params["b"]) > 1e-3
                and np.isfinite(
                    bgf.conditional_expected_number_of_purchases_up_to_time(
                        30, unique[:, 0], unique[:, 1], unique[:, 2]
                    )
                ).all()
            ):
                self.bgf = bgf
        except Exception as exc:  # noqa: BLE001 - lifetimes raises ConvergenceError and others
            log.info("analytics: BG/NBD did not fit (%s); the NBD without dropout is used", exc)
        if self.bgf is None:
            self.nbd = _fit_nbd(unique[:, 0], unique[:, 2], weights)
        repeat = (frequency > 0) & (monetary > 0)
        self.correlation = float(np.corrcoef(frequency[repeat], monetary[repeat])[0, 1]) if repeat.sum() > 2 else None
        self.mean_order = float(monetary[repeat].mean()) if repeat.any() else 0.0
        self.ggf = _fit_gamma_gamma(frequency[repeat], monetary[repeat])

    @property
    def method(self) -> str:
        orders = "BG/NBD" if self.bgf is not None else "NBD"
        value = "Gamma-Gamma" if self.ggf is not None else "average repeat order"
        return f"{orders} + {value}"

    def orders(self, horizon, frequency, recency, age) -> np.ndarray:
        if self.bgf is None:
            r, alpha = self.nbd
            return (r + frequency) / (alpha + age) * horizon
        expected = self.bgf.conditional_expected_number_of_purchases_up_to_time(horizon, frequency, recency, age)
        return np.nan_to_num(np.asarray(expected, dtype=float))

    def alive(self, frequency, recency, age) -> np.ndarray:
        if self.bgf is None:
            return np.ones_like(frequency)
        return np.nan_to_num(np.asarray(self.bgf.conditional_probability_alive(frequency, recency, age), dtype=float))

    def order_value(self, frequency, monetary) -> np.ndarray:
        if self.ggf is None:
            return np.where(frequency > 0, monetary, self.mean_order)
        return np.asarray(self.ggf.conditional_expected_average_profit(frequency, monetary), dtype=float)

    @property
    def parameters(self) -> dict:
        params = (
            self.bgf.params_.to_dict() if self.bgf is not None else dict(zip(["r", "alpha"], self.nbd, strict=True))
        )
        if self.ggf is not None:
            params |= {f"gamma_gamma_{k}": v for k, v in self.ggf.params_.to_dict().items()}
        return {k: round(float(v), 6) for k, v in params.items()}


def _fit_gamma_gamma(frequency, monetary):
    from lifetimes import GammaGammaFitter

    for penalizer in (0.0, 0.001, 0.01):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return GammaGammaFitter(penalizer_coef=penalizer).fit(frequency, monetary)
        except Exception:  # noqa: BLE001, S112 - try the next penalizer; none fitting is reported by `method`
            continue
    return None


def _fit_nbd(frequency, age, weights) -> tuple[float, float]:
    """NBD's (r, alpha) by maximum likelihood: purchase rates Gamma(r, alpha) across customers, Poisson for each."""
    from scipy.optimize import minimize
    from scipy.special import gammaln

    def minus_log_likelihood(logs):
        r, alpha = np.exp(logs)
        ll = gammaln(r + frequency) - gammaln(r) + r * np.log(alpha) - (r + frequency) * np.log(alpha + age)
        return -(weights * ll).sum() / weights.sum()

    result = minimize(minus_log_likelihood, x0=np.log([1.0, 30.0]), method="Nelder-Mead")
    r, alpha = np.exp(result.x)
    return float(r), float(alpha)


def _inputs(c: dict[str, np.ndarray], today: int, cent: float):
    """lifetimes' inputs: repeat purchase days, days from first to last and since first, average repeat day's value."""
    frequency = (c["days"] - 1).astype(float)
    recency = (c["last"] - c["first"]).astype(float)
    age = (today - c["first"]).astype(float)
    repeat_cents = c["cents"] - c["first_cents"]
    monetary = np.divide(repeat_cents, frequency, out=np.zeros_like(frequency), where=frequency > 0) * cent
    return frequency, recency, age, monetary


def _fit(c, today, cent) -> Model | None:
    """The models fitted to the customers seen by `today`; None when too few came back to fit them."""
    frequency, recency, age, monetary = (a[c["seen"]] for a in _inputs(c, today, cent))
    if int(((frequency > 0) & (monetary > 0)).sum()) < MIN_REPEAT_CUSTOMERS:
        return None
    try:
        return Model(frequency, recency, age, monetary)
    except Exception as exc:  # noqa: BLE001 - a fit that does not converge is reported, never a failed job
        log.warning("analytics: the lifetime value models did not fit: %s", exc)
        return None


def _check(history: History, today: int, cent: float) -> dict | None:
    """The model on the past: fitted up to HOLDOUT_DAYS ago, its predicted repeat orders for those
    days against what the customers then known really did, and a naive guess's."""
    cut = today - HOLDOUT_DAYS
    earlier = history.before(cut)
    c = earlier.per_customer()
    known = c["seen"]
    if known.sum() == 0:
        return None
    model = _fit(c, cut, cent)
    if model is None:
        return None
    frequency, recency, age, _monetary = (a[known] for a in _inputs(c, cut, cent))
    predicted = model.orders(HOLDOUT_DAYS, frequency, recency, age)
    later = history.day > cut
    actual = np.bincount(history.customer[later], minlength=len(history))[: len(known)][known]
    naive = np.divide(frequency, age, out=np.zeros_like(frequency), where=age > 0) * HOLDOUT_DAYS
    return {
        "cut": dt.date.fromordinal(cut).isoformat(),
        "days": HOLDOUT_DAYS,
        "customers": int(known.sum()),
        "actual": int(actual.sum()),
        "predicted": round(float(predicted.sum()), 1),
        "naive": round(float(naive.sum()), 1),
        "error": round(float(np.abs(predicted - actual).mean()), 4),
        "naive_error": round(float(np.abs(naive - actual).mean()), 4),
    }


def _cohorts(history: History, first: np.ndarray) -> list[dict]:
    """For each month of first orders: its size, and per month after it the customers who paid and what they paid."""

    def month(ordinals: np.ndarray) -> np.ndarray:
        dates = np.array(ordinals - 1, dtype="timedelta64[D]") + np.datetime64("0001-01-01")
        return dates.astype("datetime64[M]").astype(np.int64)

    if len(history.day) == 0:
        return []
    start = month(first[history.customer])
    at = month(history.day)
    offset = at - start
    pairs = np.unique(np.stack([history.customer, start, offset], axis=1), axis=0)
    out = []
    for cohort in np.unique(pairs[:, 1]):
        rows = pairs[pairs[:, 1] == cohort]
        active = np.bincount(rows[:, 2])
        cents = np.bincount(offset[start == cohort], weights=history.cents[start == cohort], minlength=len(active))
        label = np.datetime64(int(cohort), "M").astype(str)
        out.append({"month": label, "size": int(active[0]), "active": active.tolist(),
                    "cents": [int(v) for v in cents]})  # fmt: skip
    return out


def score(as_of: dt.date | None = None) -> CustomerSnapshot:
    """Score every customer as of a store day: today (the daily scoring: replaces the CustomerScore
    rows and saves a snapshot), or a day chosen in the past (the end of an imported log: a snapshot
    only, kept, which the dashboard shows for periods ending by then)."""
    chosen = as_of is not None and as_of != rollups.today()
    as_of = as_of or rollups.today()
    places = decimal_places(settings.SHOP_CURRENCY)
    cent = 10.0**-places
    history = History.load(as_of)
    today = as_of.toordinal()
    c = history.per_customer()
    n = len(history)
    recency = today - c["last"]
    r, f, m = scores(-recency), scores(c["orders"]), scores(c["cents"])
    segments = [segment_of(int(a), int(b)) for a, b in zip(r, f, strict=True)]
    model = _fit(c, today, cent)
    horizon = 30.4375 * settings.ANALYTICS_CLV_MONTHS
    predicted = alive = None
    if model is not None:
        frequency, rec, age, monetary = _inputs(c, today, cent)
        predicted_orders = model.orders(horizon, frequency, rec, age)
        alive = model.alive(frequency, rec, age)
        predicted = predicted_orders * model.order_value(frequency, monetary)
    quantum = Decimal(1).scaleb(-places)

    def money(cents: int | float) -> Decimal:
        return Decimal(int(round(cents))).scaleb(-places)

    rows = [
        CustomerScore(
            email=history.emails[i], customer_id=history.users[i],
            first_day=dt.date.fromordinal(int(c["first"][i])), last_day=dt.date.fromordinal(int(c["last"][i])),
            orders=int(c["orders"][i]), revenue=money(c["cents"][i]), recency=int(recency[i]),
            r=int(r[i]), f=int(f[i]), m=int(m[i]), segment=segments[i], as_of=as_of,
            alive=None if alive is None else Decimal(f"{alive[i]:.4f}"),
            predicted_orders=None if model is None else Decimal(f"{predicted_orders[i]:.2f}"),
            predicted_value=None if predicted is None else Decimal(f"{predicted[i]:.{places}f}").quantize(quantum),
        )
        for i in range(n)
    ]  # fmt: skip
    data = {
        "currency": settings.SHOP_CURRENCY,
        "repeat_customers": int((c["orders"] >= 2).sum()),
        "revenue_cents": int(c["cents"].sum()),
        "segments": _segment_table(segments, c, recency, predicted),
        "cohorts": _cohorts(history, c["first"]),
        "clv": _clv_summary(c, predicted, alive, model, n, cent),
        "check": _check(history, today, cent) if model is not None else None,
        "top": [
            {
                "email": s.email,
                "segment": s.segment,
                "orders": s.orders,
                "revenue": str(s.revenue),
                "alive": str(s.alive),
                "predicted": str(s.predicted_value),
            }
            for s in sorted((s for s in rows if s.predicted_value is not None), key=lambda s: -s.predicted_value)[:TOP]
        ],  # fmt: skip
    }
    with transaction.atomic():
        if not chosen:
            CustomerScore.objects.all().delete()
            CustomerScore.objects.bulk_create(rows, batch_size=2000)
            CustomerSnapshot.objects.filter(chosen=False, as_of__lt=as_of - dt.timedelta(days=KEEP_DAYS)).delete()
        snapshot, _created = CustomerSnapshot.objects.update_or_create(
            as_of=as_of, defaults={"built_at": timezone.now(), "customers": n, "data": data, "chosen": chosen}
        )
    return snapshot


def _segment_table(segments: list[str], c, recency, predicted) -> list[dict]:
    names = np.array(segments, dtype=object)
    out = []
    for seg, _r, _f in SEGMENTS:
        mine = names == seg
        count = int(mine.sum())
        out.append({
            "key": str(seg),
            "customers": count,
            "cents": int(c["cents"][mine].sum()),
            "orders": int(c["orders"][mine].sum()),
            "recency": float(recency[mine].mean()) if count else None,
            "predicted": None if predicted is None else float(predicted[mine].sum()),
        })  # fmt: skip
    return out


def _clv_summary(c, predicted, alive, model, n, cent) -> dict:
    out = {
        "months": settings.ANALYTICS_CLV_MONTHS,
        "historical_cents": int(c["cents"].sum()),
        "average_cents": float(c["cents"].mean()) if n else 0.0,
        "fitted": model is not None,
    }
    if model is not None:
        out |= {
            "predicted": float(predicted.sum()),
            "average_predicted": float(predicted.mean()),
            "alive": float(alive.mean()),
            "method": model.method,
            "parameters": model.parameters,
            "correlation": None if model.correlation is None or math.isnan(model.correlation)
            else round(model.correlation, 3),
        }  # fmt: skip
    return out


def stale() -> bool:
    """Whether today's scoring is still to do."""
    return not CustomerSnapshot.objects.filter(as_of=rollups.today()).exists()


def latest(by: dt.date | None = None) -> CustomerSnapshot | None:
    """The last snapshot made by a day (the period's end): else the first made after it."""
    if by is not None:
        before = CustomerSnapshot.objects.filter(as_of__lte=by).order_by("-as_of").first()
        return before or CustomerSnapshot.objects.order_by("as_of").first()
    return CustomerSnapshot.objects.order_by("-as_of").first()


def emails_in(segments: Iterable[str]):
    """The emails of the customers in these segments, as of the last scoring (for campaigns)."""
    return CustomerScore.objects.filter(segment__in=list(segments)).values_list("email", flat=True)
