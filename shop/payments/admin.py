from django.contrib import admin

from shop.core.admin import ReadOnlyAdmin
from shop.payments.models import Payment, Refund, WebhookEvent


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["intent_id", "order", "amount_minor", "currency", "status", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["intent_id", "order__number"]
    list_select_related = ["order"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["refund_id", "order", "amount", "currency", "reason", "created_by", "created_at"]
    search_fields = ["refund_id", "order__number"]
    list_select_related = ["order", "created_by"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "outcome", "received_at"]
    list_filter = ["type"]
    search_fields = ["event_id"]
