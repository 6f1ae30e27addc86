"""Campaigns' panel on the analytics dashboards (settings.ANALYTICS_PANELS): each campaign's and
flow's messages, clicks, unsubscribes, and the orders and revenue credited to their clicks, for
the period. Read from daily figures this app adds to the rollups (`daily_figures`), so a year's
panel reads a few hundred rows, never a year of messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from marketing.campaigns.models import Campaign, Conversion, Flow, Message
from shop.core.money_sql import from_minor_units, minor_units_sum

TOP = 15


def _source(campaign_id, flow_id) -> str:
    return f"c{campaign_id}" if campaign_id else f"f{flow_id}"


def daily_figures(first: dt.date, last: dt.date, zone: dt.tzinfo) -> Iterator[tuple]:
    """(day, measure, "campaign", source, value): messages sent and first clicks by the store day
    they happened, orders and revenue by the day they were paid. A source is "c<id>" for a
    campaign, "f<id>" for a flow."""
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    for measure, moment in (("messages_sent", "sent_at"), ("messages_clicked", "clicked_at")):
        rows = (
            Message.objects.filter(**{f"{moment}__gte": start, f"{moment}__lt": end})
            .annotate(day=TruncDate(moment, tzinfo=zone))
            .values("day", "campaign_id", "step__flow_id")
            .annotate(n=Count("id"))
        )
        for row in rows:
            yield row["day"], measure, "campaign", _source(row["campaign_id"], row["step__flow_id"]), row["n"]
    currency = settings.SHOP_CURRENCY
    orders = (
        Conversion.objects.filter(at__gte=start, at__lt=end, currency=currency)
        .annotate(day=TruncDate("at", tzinfo=zone))
        .values("day", "message__campaign_id", "message__step__flow_id")
        .annotate(n=Count("order_id"), revenue=minor_units_sum("revenue", currency=currency))
    )
    for row in orders:
        source = _source(row["message__campaign_id"], row["message__step__flow_id"])
        yield row["day"], "campaign_orders", "campaign", source, row["n"]
        yield row["day"], "campaign_revenue", "campaign", source, from_minor_units(row["revenue"], currency)


def campaigns(start: dt.datetime, end: dt.datetime, *, figures) -> dict:
    split = figures(["messages_sent", "messages_clicked", "campaign_orders", "campaign_revenue"], dimension="campaign")
    sources = {key for (_measure, key) in split}
    names = {
        f"c{pk}": name for pk, name in Campaign.objects.filter(pk__in=_ids(sources, "c")).values_list("pk", "name")
    }
    names |= {f"f{pk}": name for pk, name in Flow.objects.filter(pk__in=_ids(sources, "f")).values_list("pk", "name")}
    table = []
    for key in sources:
        sent = int(split.get(("messages_sent", key), 0))
        clicked = int(split.get(("messages_clicked", key), 0))
        table.append(
            {
                "name": names.get(key, _("(deleted)")),
                "kind": _("flow") if key.startswith("f") else _("campaign"),
                "sent": sent,
                "clicked": clicked,
                "click_rate": clicked / sent if sent else None,
                "orders": int(split.get(("campaign_orders", key), 0)),
                "revenue": split.get(("campaign_revenue", key), Decimal(0)),
            }
        )
    table.sort(key=lambda r: (-r["revenue"], -r["sent"], str(r["name"])))
    table = table[:TOP]
    return {
        "key": "campaigns",
        "title": _("Campaigns and flows"),
        "template": "campaigns/analytics_panel.html",
        "context": {"rows": table},
        "columns": ["name", "kind", "sent", "clicked", "orders", "revenue"],
        "table": table,
    }


def _ids(sources, prefix: str) -> list[int]:
    return [int(k[1:]) for k in sources if k.startswith(prefix) and k[1:].isdigit()]
