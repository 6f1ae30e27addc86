from django.contrib import admin, messages
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.core.admin import ReadOnlyAdmin
from shop.payments import refunds
from shop.payments.models import Payment, Refund, WebhookEvent

R = Refund.Status


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    menu_order = 2  # in the menu (shop/core/admin_site.py)
    list_display = ["intent_id", "order", "amount_minor", "currency", "status", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["intent_id", "order__number"]
    list_select_related = ["order"]


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Money still owed to a customer: a refund Stripe has not confirmed after a try, or one that failed."""

    title = gettext_lazy("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("Needs attention")), ("no", _("Settled"))]

    def queryset(self, request, queryset):
        attention = Q(status=R.FAILED) | Q(status=R.REQUESTED, attempts__gt=0)
        if self.value() == "yes":
            return queryset.filter(attention)
        if self.value() == "no":
            return queryset.exclude(attention)
        return queryset


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Every refund, and (filter "needs attention") the payments whose money has not gone back yet.

    Rows are written by the store; staff act on them only through the two actions."""

    menu_order = 1  # in the menu (shop/core/admin_site.py)

    list_display = [
        "order",
        "amount",
        "currency",
        "status",
        "reason",
        "attempts",
        "next_attempt_at",
        "last_error",
        "refund_id",
        "created_by",
        "created_at",
    ]
    list_filter = [NeedsAttentionFilter, "status", "applies_to_order", "currency"]
    search_fields = ["refund_id", "order__number", "payment__intent_id"]
    list_select_related = ["order", "created_by"]
    actions = ["retry_now", "mark_resolved"]

    def has_retry_permission(self, request):
        return request.user.has_perm("payments.change_refund")

    @admin.action(description=gettext_lazy("Retry the selected refunds now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        sent = sum(refunds.refund_retry(refund_pk=pk) for pk in queryset.values_list("pk", flat=True))
        left = queryset.count() - sent
        if sent:
            self.message_user(
                request, ngettext("%(n)d refund sent.", "%(n)d refunds sent.", sent) % {"n": sent}, messages.SUCCESS
            )
        if left:
            self.message_user(
                request,
                ngettext(
                    "%(n)d refund not sent (already settled, or Stripe failed again: see its last error).",
                    "%(n)d refunds not sent (already settled, or Stripe failed again: see their last error).",
                    left,
                )
                % {"n": left},
                messages.WARNING,
            )

    @admin.action(
        description=gettext_lazy("Mark the selected refunds resolved (no more retries)"), permissions=["retry"]
    )
    def mark_resolved(self, request, queryset):
        done = sum(
            refunds.refund_mark_resolved(refund_pk=pk, actor=request.user)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("%(n)d refund marked resolved.", "%(n)d refunds marked resolved.", done) % {"n": done},
            messages.SUCCESS if done else messages.WARNING,
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "outcome", "received_at"]
    list_filter = ["type"]
    search_fields = ["event_id"]
