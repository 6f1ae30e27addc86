from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q, Sum
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.core.admin import OutboxStateFilter, ReadOnlyAdmin
from shop.core.errors import ShopError
from shop.core.money import Money
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.core.queue import enqueue
from shop.orders import services
from shop.orders.forms import RefundForm, ShipForm
from shop.orders.models import PAID_STATES, Order, OrderAdjustment, OrderEmail, OrderEvent, OrderLine
from shop.orders.payment import PaymentUnavailable, RefundPending
from shop.orders.templatetags.order_tags import options_text


def money_column(name: str, model=Order, order=lambda obj: obj):
    """A read-only column showing a decimal field as money in the order's currency ("$1,234.50")."""

    @admin.display(description=model._meta.get_field(name).verbose_name)
    def show(self, obj):
        return Money(getattr(obj, name), order(obj).currency).format()

    return show


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Money columns read the order's currency: with the rows, not one query each.
        return super().get_queryset(request).select_related("order")

    def get_readonly_fields(self, request, obj=None):
        # All of them: the inline formset is still built, and a non-editable
        # field (OrderEmail.created_at) listed in `fields` would raise FieldError.
        return self.fields


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "name_and_options", "unit_price_text", "quantity", "subtotal_text", "discount_text"]
    unit_price_text = money_column("unit_price", OrderLine, lambda line: line.order)
    subtotal_text = money_column("subtotal", OrderLine, lambda line: line.order)
    discount_text = money_column("discount", OrderLine, lambda line: line.order)

    @admin.display(description=OrderLine._meta.get_field("name").verbose_name)
    def name_and_options(self, line):
        """The product's name, and below it the options bought ("Size: 42 · Colour: Blue"), if any."""
        if not line.options:
            return line.name
        return format_html('{}<br><span class="help">{}</span>', line.name, options_text(line.options))


def _shipping_references(adjustments) -> dict:
    methods = settings.SHOP_SHIPPING_METHODS
    return {
        a.pk: _("Shipping method: %(method)s") % {"method": methods[a.reference]["label"]}
        for a in adjustments
        if a.source == "shipping" and a.reference in methods
    }


def adjustment_references(adjustments) -> dict:
    """{adjustment id: what its reference means to staff} ("2|YALDA50" is a code of promotion 2), from
    the apps that wrote them (SHOP_ADJUSTMENT_REFERENCES); one that none of them knows is shown as stored."""
    texts = _shipping_references(adjustments)
    for describer in settings.SHOP_ADJUSTMENT_REFERENCES:
        texts.update(import_string(describer)(adjustments))
    return texts


class DescribedAdjustments(BaseInlineFormSet):
    def get_queryset(self):
        # All of an order's references are described at once, in a query or two, not one a row. The
        # formset asks for its queryset once a form: describe them the first time only.
        adjustments = super().get_queryset()
        if not getattr(self, "_described", False):
            texts = adjustment_references(list(adjustments))
            for adjustment in adjustments:
                adjustment.reference_text = texts.get(adjustment.pk, adjustment.reference or "—")
            self._described = True
        return adjustments


class AdjustmentInline(ReadOnlyInline):
    model = OrderAdjustment
    formset = DescribedAdjustments
    fields = ["kind_text", "label", "amount_text", "details"]
    KINDS = {
        "discount": gettext_lazy("Discount"),
        "shipping": gettext_lazy("Shipping"),
        "points": gettext_lazy("Points"),
    }

    @admin.display(description=gettext_lazy("kind"))
    def kind_text(self, adjustment):
        return self.KINDS.get(adjustment.kind, adjustment.kind)

    @admin.display(description=gettext_lazy("amount"))
    def amount_text(self, adjustment):
        return Money(adjustment.amount, adjustment.order.currency).format()

    @admin.display(description=gettext_lazy("details"))
    def details(self, adjustment):
        return getattr(adjustment, "reference_text", adjustment.reference or "—")


class EventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "status", "message", "actor"]
    verbose_name_plural = gettext_lazy("Timeline")


class EmailInline(ReadOnlyInline):
    model = OrderEmail
    fields = ["kind", "reference", "created_at", "sent_at", "attempts", "last_error"]


@admin.register(OrderEmail)
class OrderEmailAdmin(ReadOnlyAdmin):
    """Every order email the store wrote, and where each stands: staff see what a mail-server outage
    held back and send it again at once instead of waiting for the sweep's rest."""

    list_display = ["created_at", "order_link", "kind", "to", "sent_at", "attempts", "last_error"]
    list_filter = [OutboxStateFilter, "kind"]
    list_select_related = ["order"]
    search_fields = ["order__number", "order__email"]
    search_help_text = gettext_lazy("Search by order number or email.")
    ordering = ["-created_at"]
    actions = ["send_again"]

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_link(self, email):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[email.order_id]), email.order.number
        )

    @admin.display(description=gettext_lazy("to"), ordering="order__email")
    def to(self, email):
        return email.order.email

    def has_resend_permission(self, request):
        return request.user.has_perm("orders.change_order")

    @admin.action(description=gettext_lazy("Send the selected unsent emails again now"), permissions=["resend"])
    def send_again(self, request, queryset):
        from shop.orders.tasks import send_order_email

        ids = list(queryset.filter(sent_at__isnull=True).values_list("pk", flat=True))
        # Their rest is over: the task claims each (never twice) and, if it fails again, rests it again.
        OrderEmail.objects.filter(pk__in=ids, sent_at__isnull=True).update(claimed_until=None)
        queued = sum(enqueue(send_order_email, email_id=pk) for pk in ids)
        if queued < len(ids):
            self.message_user(request, _("The task queue is not answering: try again in a moment."), messages.WARNING)
        else:
            self.message_user(
                request,
                ngettext("%(n)d email is being sent again.", "%(n)d emails are being sent again.", queued)
                % {"n": queued},
                messages.SUCCESS,
            )


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
            {"fields": ["subtotal_text", "discount_text", "shipping_text", "total_text", "refunded_text"]},
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
    subtotal_text = money_column("subtotal")
    discount_text = money_column("discount_total")
    shipping_text = money_column("shipping_total")
    total_text = money_column("total")
    refunded_text = money_column("amount_refunded")
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """An order is read-only: the page has no Save buttons (nothing on it is a field to edit), and a
        POST to it is refused; staff change an order through its buttons (ship, refund, cancel...)."""
        if request.method == "POST":
            return HttpResponseNotAllowed(["GET"])
        buttons = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **buttons})

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

    @admin.action(description=gettext_lazy("Mark selected orders delivered"), permissions=["change"])
    def mark_delivered(self, request, queryset):
        self._bulk(
            request,
            queryset,
            lambda o: services.order_deliver(order_id=o.pk, actor=request.user),
            lambda n: ngettext("%(n)d order marked delivered.", "%(n)d orders marked delivered.", n) % {"n": n},
        )

    @admin.action(
        description=gettext_lazy("Cancel selected orders (stock comes back; paid ones are refunded)"),
        permissions=["change"],
    )
    def cancel_orders(self, request, queryset):
        self._bulk(
            request,
            queryset,
            lambda o: services.order_cancel(order_id=o.pk, actor=request.user),
            lambda n: (
                ngettext(
                    "%(n)d order cancelled: its stock is back on sale, and its payment, if any, is refunded.",
                    "%(n)d orders cancelled: their stock is back on sale, and the paid ones are refunded.",
                    n,
                )
                % {"n": n}
            ),
        )

    def _bulk(self, request, queryset, action, done_message):
        """Apply `action` to each order; one sentence for those done (done_message(count)), one per failure."""
        done, failed = 0, []
        for order in queryset:
            try:
                action(order)
                done += 1
            except RefundPending as exc:  # done; the refund goes out when the provider answers
                done += 1
                self.message_user(request, _refund_pending(order, exc), messages.WARNING)
            except (ShopError, PaymentUnavailable) as exc:
                failed.append(
                    _("Order %(number)s was not changed: %(reason)s") % {"number": order.number, "reason": exc.message}
                )
        if done:
            self.message_user(request, done_message(done), messages.SUCCESS)
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

    def _form_view(self, request, pk, form_class, title, apply, done, initial=None):
        """A form about one order (ship, refund): `apply(order, data)` does it, `done(order, data)` says what
        was done, in a sentence, on the order's page."""
        order = get_object_or_404(Order, pk=pk)
        if not self.has_change_permission(request, order):
            return redirect("admin:index")
        form = form_class(request.POST or None, initial=initial or {})
        if request.method == "POST" and form.is_valid():
            try:
                apply(order, form.cleaned_data)
            except RefundPending as exc:  # recorded and retried: saying it failed would invite a second refund
                self.message_user(request, _refund_pending(order, exc), messages.WARNING)
                return redirect(reverse("admin:orders_order_change", args=[order.pk]))
            except (ShopError, PaymentUnavailable) as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, done(order, form.cleaned_data), messages.SUCCESS)
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
            lambda order, data: (
                _("Order %(number)s marked shipped with %(carrier)s, tracking number %(tracking)s.")
                % {"number": order.number, "carrier": data["carrier"], "tracking": data["tracking_number"]}
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
            lambda order, data: (
                _("%(amount)s refunded on order %(number)s.")
                % {"amount": Money(data["amount"], order.currency).format(), "number": order.number}
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


def _refund_pending(order, exc) -> str:
    return _("Order %(number)s: %(message)s") % {"number": order.number, "message": exc.message}
