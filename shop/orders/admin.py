from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.core.errors import ShopError
from shop.core.money import Money
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders import services
from shop.orders.forms import RefundForm, ShipForm
from shop.orders.models import PAID_STATES, Order, OrderAdjustment, OrderEmail, OrderEvent, OrderLine
from shop.orders.payment import PaymentUnavailable, RefundPending


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # All of them: the inline formset is still built, and a non-editable
        # field (OrderEmail.created_at) listed in `fields` would raise FieldError.
        return self.fields


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "name", "unit_price", "quantity", "subtotal", "discount"]


class AdjustmentInline(ReadOnlyInline):
    model = OrderAdjustment
    fields = ["kind", "label", "amount", "source", "reference"]


class EventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "status", "message", "actor"]
    verbose_name_plural = gettext_lazy("Timeline")


class EmailInline(ReadOnlyInline):
    model = OrderEmail
    fields = ["kind", "reference", "created_at", "sent_at", "attempts", "last_error"]


class PaidFilter(admin.SimpleListFilter):
    title = gettext_lazy("paid")
    parameter_name = "paid"

    def lookups(self, request, model_admin):
        return [("yes", _("Paid")), ("no", _("Not paid"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paid_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(paid_at__isnull=True)
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "placed_at",
        "email",
        "status_tag",
        "total",
        "amount_refunded",
        "shipping_method",
        "items",
    ]
    list_filter = ["status", PaidFilter, ("placed_at", admin.DateFieldListFilter), "shipping_method"]
    search_fields = ["number", "email", "shipping_name", "tracking_number"]
    search_help_text = gettext_lazy("Search by order number, email, name or tracking number.")
    date_hierarchy = "placed_at"
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["number", "status", "user", "email", "placed_at", "paid_at", "expires_at"]}),
        (
            gettext_lazy("Money"),
            {"fields": ["currency", "subtotal", "discount_total", "shipping_total", "total", "amount_refunded"]},
        ),
        (
            gettext_lazy("Shipping"),
            {
                "fields": [
                    "shipping_method",
                    "carrier",
                    "tracking_number",
                    "shipping_name",
                    "shipping_line1",
                    "shipping_line2",
                    "shipping_city",
                    "shipping_region",
                    "shipping_postal_code",
                    "shipping_country",
                    "shipping_phone",
                ]
            },
        ),
    ]
    # An order is a record: everything shown is read-only; changes go through the actions.
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]
    inlines = [LineInline, AdjustmentInline, EventInline, EmailInline]
    actions = ["mark_delivered", "cancel_orders"]
    change_form_template = "admin/orders/order/change_form.html"
    change_list_template = "admin/orders/order/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_items=Sum("lines__quantity"))

    def has_add_permission(self, request):
        return False  # orders come from checkouts

    def has_delete_permission(self, request, obj=None):
        return False  # orders are records: cancel or refund them

    @admin.display(description=gettext_lazy("items"), ordering="n_items")
    def items(self, order):
        return order.n_items

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_tag(self, order):
        tones = {  # colours in shop/core/static/shop/admin.css
            "paid": "good",
            "shipped": "info",
            "delivered": "done",
            "pending_payment": "warn",
            "payment_failed": "bad",
            "refunded": "refund",
        }
        return format_html(
            '<strong class="tone-{}">{}</strong>', tones.get(order.status, "quiet"), order.get_status_display()
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            qs = response.context_data["cl"].queryset.order_by()
            currency = settings.SHOP_CURRENCY
            stats = qs.aggregate(
                orders=Count("id"),
                paid=Count("id", filter=Q(status__in=PAID_STATES)),
                # In cents: SQLite adds decimals as doubles.
                revenue=minor_units_sum("total", currency=currency, filter=Q(status__in=PAID_STATES)),
                refunded=minor_units_sum("amount_refunded", currency=currency),
            )
            stats["revenue"] = from_minor_units(stats["revenue"], currency)
            stats["refunded"] = from_minor_units(stats["refunded"], currency)
            response.context_data["stats"] = stats
        return response

    @admin.action(description=gettext_lazy("Mark selected orders delivered"))
    def mark_delivered(self, request, queryset):
        self._bulk(
            request, queryset, lambda o: services.order_deliver(order_id=o.pk, actor=request.user), _("delivered")
        )

    @admin.action(description=gettext_lazy("Cancel selected orders (stock comes back; paid ones are refunded)"))
    def cancel_orders(self, request, queryset):
        self._bulk(
            request, queryset, lambda o: services.order_cancel(order_id=o.pk, actor=request.user), _("cancelled")
        )

    def _bulk(self, request, queryset, action, done_label):
        done, failed = 0, []
        for order in queryset:
            try:
                action(order)
                done += 1
            except RefundPending as exc:  # done; the refund goes out when the provider answers
                done += 1
                self.message_user(request, f"{order.number}: {exc.message}", messages.WARNING)
            except (ShopError, PaymentUnavailable) as exc:
                failed.append(f"{order.number}: {exc.message}")
        if done:
            self.message_user(
                request,
                ngettext("%(n)d order %(what)s.", "%(n)d orders %(what)s.", done) % {"n": done, "what": done_label},
                messages.SUCCESS,
            )
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/ship/", view(self.ship_view), name="orders_order_ship"),
            path("<int:pk>/refund/", view(self.refund_view), name="orders_order_refund"),
            path("<int:pk>/deliver/", view(self.deliver_view), name="orders_order_deliver"),
            path("<int:pk>/cancel/", view(self.cancel_view), name="orders_order_cancel"),
            *super().get_urls(),
        ]

    def _form_view(self, request, pk, form_class, title, apply, initial=None):
        order = get_object_or_404(Order, pk=pk)
        if not self.has_change_permission(request, order):
            return redirect("admin:index")
        form = form_class(request.POST or None, initial=initial or {})
        if request.method == "POST" and form.is_valid():
            try:
                apply(order, form.cleaned_data)
            except RefundPending as exc:  # recorded and retried: saying it failed would invite a second refund
                self.message_user(request, f"{order.number}: {exc.message}", messages.WARNING)
                return redirect(reverse("admin:orders_order_change", args=[order.pk]))
            except (ShopError, PaymentUnavailable) as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, _("Done: order %(n)s.") % {"n": order.number}, messages.SUCCESS)
                return redirect(reverse("admin:orders_order_change", args=[order.pk]))
        return TemplateResponse(
            request,
            "admin/orders/order/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "order": order,
                "opts": self.model._meta,
            },
            status=400 if form.errors else 200,
        )

    def ship_view(self, request, pk):
        return self._form_view(
            request,
            pk,
            ShipForm,
            _("Mark shipped"),
            lambda order, data: services.order_ship(
                order_id=order.pk, carrier=data["carrier"], tracking_number=data["tracking_number"], actor=request.user
            ),
        )

    def refund_view(self, request, pk):
        order = get_object_or_404(Order, pk=pk)
        return self._form_view(
            request,
            pk,
            RefundForm,
            _("Refund (at most %(max)s)") % {"max": order.refundable.format()},
            lambda order, data: services.order_refund(
                order_id=order.pk,
                amount=Money(data["amount"], order.currency),
                actor=request.user,
                reason=data["reason"],
            ),
            initial={"amount": order.refundable.amount},
        )

    def deliver_view(self, request, pk):
        return self._order_action(request, pk, self.mark_delivered)

    def cancel_view(self, request, pk):
        return self._order_action(request, pk, self.cancel_orders)

    def _order_action(self, request, pk, action):
        """The change page's buttons: the bulk action on one order (POST only), back to the order."""
        if request.method == "POST" and self.has_change_permission(request):
            action(request, Order.objects.filter(pk=pk))
        return redirect(reverse("admin:orders_order_change", args=[pk]))
