"""Analytics' part of a customer's data (shop/accounts/privacy.py, docs/privacy.md): the events tied
to them (only those recorded with their consent are) and the score the daily scoring gave them."""

from django.utils.translation import gettext_lazy

from marketing.analytics import services
from marketing.analytics.models import CustomerScore, Event

EVENT_FIELDS = (
    "name",
    "at",
    "path",
    "product_id",
    "order_id",
    "quantity",
    "value",
    "currency",
    "device",
    "source",
    "medium",
    "campaign",
    "data",
)
SCORE_FIELDS = (
    "first_day",
    "last_day",
    "orders",
    "revenue",
    "recency",
    "r",
    "f",
    "m",
    "segment",
    "alive",
    "predicted_orders",
    "predicted_value",
    "as_of",
)


class AnalyticsData:
    key = "analytics"
    label = gettext_lazy("What you did in the store")
    erases = gettext_lazy("The link between you and the pages and products you looked at, and your customer score.")
    keeps = gettext_lazy("Those visits, counted in the store's figures without anything that points to you.")

    def export(self, user) -> dict:
        events = Event.objects.filter(customer_id=user.pk).order_by("at", "id").values(*EVENT_FIELDS)
        score = CustomerScore.objects.filter(customer_id=user.pk).values(*SCORE_FIELDS).first()
        return {"events": list(events.iterator(chunk_size=5000)), "score": score}

    def erase(self, user) -> None:
        services.customer_forget(user_id=user.pk, email=user.email)
