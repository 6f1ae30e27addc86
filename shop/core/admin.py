from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.core.outbox import GIVE_UP


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the store itself (payments, refunds, redemptions): shown, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OutboxStateFilter(admin.SimpleListFilter):
    """An outbox's rows (shop/core/outbox.py) by where they stand: sent, on their way, resting after a
    failure (the sweep tries again after the rest), or given up (older than the sweep looks)."""

    title = gettext_lazy("delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [
            ("sent", _("Sent")),
            ("waiting", _("On its way")),
            ("failing", _("Failed, trying again")),
            ("given_up", _("Given up")),
        ]

    def queryset(self, request, queryset):
        recent = timezone.now() - GIVE_UP
        unsent = queryset.filter(sent_at__isnull=True)
        match self.value():
            case "sent":
                return queryset.filter(sent_at__isnull=False)
            case "waiting":
                return unsent.filter(attempts=0, created_at__gte=recent)
            case "failing":
                return unsent.filter(attempts__gt=0, created_at__gte=recent)
            case "given_up":
                return unsent.filter(created_at__lt=recent)
        return queryset
