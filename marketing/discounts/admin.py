"""The promotions admin: promotions with their codes and figures, codes, redemptions; a cart preview."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, RegexValidator
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.forms.models import BaseInlineFormSet
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from marketing.discounts import segments, selectors, services
from marketing.discounts.exports import codes_csv
from marketing.discounts.models import CodeBatch, DiscountCode, Promotion, Redemption
from shop.accounts.models import User
from shop.catalog.models import Product
from shop.core.admin import ReadOnlyAdmin
from shop.core.money import Money

INLINE_CODES = 20  # a promotion with a batch of thousands shows the first few; the codes list has them all
FIRST_CODES = 10  # shown on the page that says a batch was made
PREVIEW_ROWS = 5
P = Promotion


def _date(value) -> str:
    """A window's edge: the day alone when it is midnight (most windows), else the day and time."""
    if not value:
        return ""
    local = timezone.localtime(value)
    midnight = (local.hour, local.minute, local.second) == (0, 0, 0)
    return formats.date_format(local, "SHORT_DATE_FORMAT" if midnight else "SHORT_DATETIME_FORMAT")


def _stamp() -> str:
    return f"{timezone.localtime():%Y%m%d-%H%M}"


# --- Promotions ------------------------------------------------------------------------------------------------


class FirstCodesFormSet(BaseInlineFormSet):
    def get_queryset(self):
        # Only the first few: a batch of 10,000 codes would make the page unusable.
        return super().get_queryset()[:INLINE_CODES]


class DiscountCodeInline(admin.TabularInline):
    model = DiscountCode
    formset = FirstCodesFormSet
    fields = ["code", "max_uses", "times_used", "batch_label"]
    readonly_fields = ["times_used", "batch_label"]
    extra = 1
    verbose_name_plural = gettext_lazy("Codes (the first %(n)d; all of them are in the codes list)") % {
        "n": INLINE_CODES
    }

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("batch").order_by("id")

    @admin.display(description=gettext_lazy("batch"))
    def batch_label(self, code):
        return f"#{code.batch_id} ({code.batch.prefix or '—'})" if code.batch_id else "—"


class WindowFilter(admin.SimpleListFilter):
    title = gettext_lazy("when")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("running", _("Running now")), ("scheduled", _("Scheduled")), ("ended", _("Ended"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "running":
            return queryset.filter(selectors.running_q(now))
        if self.value() == "scheduled":
            return queryset.filter(starts_at__gt=now)
        if self.value() == "ended":
            return queryset.filter(ends_at__lte=now)
        return queryset


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(
        label=gettext_lazy("How many codes"),
        min_value=1,
        initial=100,
        help_text=gettext_lazy("A large batch is made in the background: its page shows when it is ready."),
    )
    prefix = forms.CharField(
        label=gettext_lazy("Prefix"),
        max_length=12,
        required=False,
        validators=[RegexValidator(r"^[A-Za-z0-9-]*$", gettext_lazy("Letters, digits and dashes only."))],
        help_text=gettext_lazy("Optional, e.g. VIP- (codes are upper case)."),
    )
    length = forms.IntegerField(
        label=gettext_lazy("Random characters"),
        min_value=6,
        max_value=16,
        initial=8,
        help_text=gettext_lazy("Drawn from letters and digits that cannot be misread (no 0/O, 1/I/L)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The same hard maximum as the API's (services.batch_create), read when the form is made.
        count = self.fields["count"]
        count.max_value = settings.DISCOUNT_CODE_BATCH_MAX
        count.validators.append(MaxValueValidator(count.max_value))
        count.widget.attrs["max"] = count.max_value


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    menu_order = 1  # in the menu (shop/core/admin_site.py)
    # Six columns, so the list fits a 1366 px screen beside the menu and the filters: the value says the kind,
    # the status says the window, the priority is on the promotion's page.
    list_display = ["name", "value_label", "scope_label", "code_column", "status", "usage"]
    list_filter = ["kind", "scope", "is_active", "requires_code", "stackable", WindowFilter, "first_order_only"]
    search_fields = ["name", "codes__code"]
    search_help_text = gettext_lazy("Search by name or code.")
    list_per_page = 50
    autocomplete_fields = ["categories", "products", "excluded_products", "customers"]
    readonly_fields = ["times_used", "codes_summary"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "priority", "requires_code", "stackable"]}),
        (
            gettext_lazy("Discount"),
            {"fields": ["kind", "value", ("buy_quantity", "get_quantity"), "max_discount"]},
        ),
        (
            gettext_lazy("Applies to"),
            {"fields": ["scope", "categories", "products", "excluded_products", "exclude_on_sale"]},
        ),
        (
            gettext_lazy("Conditions"),
            {
                "fields": [
                    ("starts_at", "ends_at"),
                    "min_subtotal",
                    "min_quantity",
                    "first_order_only",
                    "customers",
                    "segment",
                ]
            },
        ),
        (gettext_lazy("Limits"), {"fields": ["usage_limit", "usage_limit_per_customer", "times_used"]}),
    ]
    inlines = [DiscountCodeInline]
    actions = ["activate", "deactivate", "generate_codes", "export_codes"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "segment":
            # A list of the segments the campaigns app defines (DISCOUNTS_SEGMENTS).
            known = segments.choices()
            return forms.TypedChoiceField(
                label=db_field.verbose_name,
                help_text=db_field.help_text,
                required=False,
                choices=[("", "—"), *known],
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    change_form_template = "admin/discounts/promotion/change_form.html"
    change_list_template = "admin/discounts/promotion/change_list.html"

    def get_queryset(self, request):
        first_code = DiscountCode.objects.filter(promotion=OuterRef("pk")).order_by("id").values("code")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(n_codes=Count("codes"), first_code=Subquery(first_code))
            .prefetch_related("categories")
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        return [*self.fieldsets, (gettext_lazy("Codes"), {"fields": ["codes_summary"]})]

    # --- columns

    @admin.display(description=gettext_lazy("discount"), ordering="value")
    def value_label(self, p):
        if p.kind == P.Kind.PERCENTAGE:
            text = f"{p.value.normalize():f}%"
        elif p.kind == P.Kind.FIXED:
            text = Money(p.value, settings.SHOP_CURRENCY).format()
        elif p.kind == P.Kind.BUY_X_GET_Y:
            off = _("free") if p.value == 100 else f"{p.value.normalize():f}% off"
            text = _("buy %(x)d, get %(y)d %(off)s") % {"x": p.buy_quantity, "y": p.get_quantity, "off": off}
        else:
            text = _("free shipping")
        if p.max_discount is not None:
            text += " " + _("(max %(max)s)") % {"max": Money(p.max_discount, settings.SHOP_CURRENCY).format()}
        return text

    @admin.display(description=gettext_lazy("on"), ordering="scope")
    def scope_label(self, p):
        if p.scope == P.Scope.CATEGORIES:
            return ", ".join(c.name for c in p.categories.all()) or _("no category chosen")
        if p.scope == P.Scope.PRODUCTS:
            return _("chosen products")
        return _("whole order")

    @admin.display(description=gettext_lazy("code"), ordering="first_code")
    def code_column(self, p):
        """The code customers type (the first, when there are several), and how many more there are."""
        if not p.n_codes:
            return _("no code yet") if p.requires_code else _("automatic")
        url = reverse("admin:discounts_discountcode_changelist") + f"?promotion__id__exact={p.pk}"
        if p.n_codes == 1:
            return format_html('<a href="{}"><code>{}</code></a>', url, p.first_code)
        more = ngettext("+%(n)s more", "+%(n)s more", p.n_codes - 1) % {"n": f"{p.n_codes - 1:,}"}
        return format_html('<code>{}</code> <a href="{}">{}</a>', p.first_code, url, more)

    @admin.display(description=gettext_lazy("status"), ordering="starts_at")
    def status(self, p):
        """Running, scheduled, ended..., with the window under it."""
        now = timezone.now()
        if not p.is_active:
            label, tone = _("Off"), "quiet"
        elif p.starts_at > now:
            label, tone = _("Scheduled"), "info"
        elif p.ends_at is not None and p.ends_at <= now:
            label, tone = _("Ended"), "warn"
        elif p.usage_limit is not None and p.times_used >= p.usage_limit:
            label, tone = _("Used up"), "bad"
        else:
            label, tone = _("Running"), "good"
        return format_html('<strong class="tone-{}">{}</strong><br><span class="quiet">{}</span>', tone, label,
                           self.window(p))  # fmt: skip

    @admin.display(description=gettext_lazy("window"), ordering="starts_at")
    def window(self, p):
        return f"{_date(p.starts_at)} → {_date(p.ends_at) if p.ends_at else _('no end')}"

    @admin.display(description=gettext_lazy("used"), ordering="times_used")
    def usage(self, p):
        return f"{p.times_used} / {p.usage_limit}" if p.usage_limit is not None else str(p.times_used)

    @admin.display(description=gettext_lazy("codes"))
    def codes_summary(self, p):
        counts = p.codes.aggregate(n=Count("id"), used=Count("id", filter=Q(times_used__gt=0)))
        if not counts["n"]:
            return _("No codes yet: add one below, or make many with the “Generate codes” button above.")
        url = reverse("admin:discounts_discountcode_changelist") + f"?promotion__id__exact={p.pk}"
        return format_html(
            '{} · <a href="{}">{}</a>',
            ngettext("%(n)d code, %(used)d used", "%(n)d codes, %(used)d used", counts["n"]) % counts,
            url,
            _("see them all in the codes list"),
        )

    # --- the list's stats line and the change page's figures

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            response.context_data["stats"] = selectors.promotions_summary(response.context_data["cl"].queryset)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        promotion = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if promotion is not None:
            extra_context["stats"] = selectors.promotion_stats(promotion)
            extra_context["may_generate"] = promotion.requires_code and self.has_add_codes_permission(request)
        return super().change_view(request, object_id, form_url, extra_context)

    # --- actions

    @admin.action(description=gettext_lazy("Activate selected promotions"), permissions=["change"])
    def activate(self, request, queryset):
        n = services.promotions_set_active(promotion_ids=queryset.values("pk"), active=True)
        self.message_user(
            request,
            ngettext("%(n)d promotion switched on.", "%(n)d promotions switched on.", n) % {"n": n},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Deactivate selected promotions"), permissions=["change"])
    def deactivate(self, request, queryset):
        n = services.promotions_set_active(promotion_ids=queryset.values("pk"), active=False)
        self.message_user(
            request,
            ngettext("%(n)d promotion switched off.", "%(n)d promotions switched off.", n) % {"n": n},
            messages.SUCCESS,
        )

    def has_add_codes_permission(self, request):
        """Making codes is adding discount codes, as in the staff API."""
        return request.user.has_perm("discounts.add_discountcode")

    @admin.action(description=gettext_lazy("Generate single-use codes…"), permissions=["add_codes"])
    def generate_codes(self, request, queryset):
        automatic = [p.name for p in queryset if not p.requires_code]
        if automatic:
            self.message_user(
                request,
                ngettext(
                    "No codes were made: %(names)s applies without a code, so codes would do nothing.",
                    "No codes were made: %(names)s apply without a code, so codes would do nothing.",
                    len(automatic),
                )
                % {"names": ", ".join(f"“{name}”" for name in automatic)},
                messages.ERROR,
            )
            return None
        form = GenerateCodesForm(request.POST if "apply" in request.POST else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "promotions": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        if form.is_valid():
            batches = [self._make_batch(request, promotion, form.cleaned_data) for promotion in queryset]
            return self._batches_page(request, batches)
        return render(
            request,
            "admin/discounts/promotion/generate_codes.html",
            {**context, "title": _("Generate single-use codes"), "form": form},
        )

    def _make_batch(self, request, promotion, data) -> CodeBatch:
        """One batch of codes for the promotion, and a sentence saying what was made (or is being made)."""
        batch = services.batch_create(promotion=promotion, actor=request.user, **data)
        values = {"n": f"{batch.count:,}", "name": promotion.name}
        if batch.is_done:
            text = ngettext(
                "%(n)s single-use code made for “%(name)s”.", "%(n)s single-use codes made for “%(name)s”.", batch.count
            )
            self.message_user(request, text % values, messages.SUCCESS)
        else:
            text = _(
                "%(n)s codes for “%(name)s” are being made in the background: the batch below shows how far it got."
            )
            self.message_user(request, text % values, messages.INFO)
        return batch

    def _batches_page(self, request, batches):
        """What was made: each batch with its first codes and its download (or its progress, if not done)."""
        for batch in batches:
            batch.first_codes = list(
                DiscountCode.objects.filter(batch=batch).order_by("id").values_list("code", flat=True)[:FIRST_CODES]
            )
        return TemplateResponse(
            request,
            "admin/discounts/promotion/codes_generated.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Codes generated"),
                "batches": batches,
                "first_codes": FIRST_CODES,
            },
        )

    def generate_codes_view(self, request, pk):
        """The promotion page's “Generate codes” button: the form, then what was made."""
        promotion = get_object_or_404(Promotion, pk=pk)
        if not self.has_add_codes_permission(request):
            raise PermissionDenied
        if not promotion.requires_code:
            self.message_user(
                request,
                _("No codes were made: “%(name)s” applies without a code, so codes would do nothing.")
                % {"name": promotion.name},
                messages.ERROR,
            )
            return redirect("admin:discounts_promotion_change", promotion.pk)
        form = GenerateCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            batch = self._make_batch(request, promotion, form.cleaned_data)
            return redirect("admin:discounts_promotion_batch", batch.pk)
        return TemplateResponse(
            request,
            "admin/discounts/promotion/generate_codes.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": promotion,
                "title": _("Generate single-use codes"),
                "promotions": [promotion],
                "form": form,
                "single": True,
            },
            status=400 if form.errors else 200,
        )

    def batch_view(self, request, batch_id):
        batch = get_object_or_404(CodeBatch.objects.select_related("promotion"), pk=batch_id)
        if not self.has_view_permission(request, batch.promotion):
            raise PermissionDenied
        return self._batches_page(request, [batch])

    def has_export_codes_permission(self, request):
        """The codes themselves are worth money: as the API, they need the permission to view codes."""
        return request.user.has_perm("discounts.view_discountcode")

    @admin.action(description=gettext_lazy("Export codes to CSV"), permissions=["export_codes"])
    def export_codes(self, request, queryset):
        return codes_csv(DiscountCode.objects.filter(promotion__in=queryset.values("pk")), f"codes-{_stamp()}.csv")

    # --- per-object views

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(self.preview_view), name="discounts_promotion_preview"),
            path("<int:pk>/generate-codes/", view(self.generate_codes_view), name="discounts_promotion_generate"),
            path("batches/<int:batch_id>/", view(self.batch_view), name="discounts_promotion_batch"),
            path("batches/<int:batch_id>/codes.csv", view(self.batch_csv_view), name="discounts_promotion_batch_csv"),
            *super().get_urls(),
        ]

    def batch_csv_view(self, request, batch_id):
        batch = get_object_or_404(CodeBatch, pk=batch_id)
        if not (self.has_view_permission(request, batch.promotion) and self.has_export_codes_permission(request)):
            return redirect("admin:index")
        if not batch.is_done:
            self.message_user(
                request, _("Batch #%(id)d is not ready yet: download it once it is.") % {"id": batch.pk}, messages.ERROR
            )
            return redirect("admin:discounts_codebatch_change", batch.pk)
        return codes_csv(DiscountCode.objects.filter(batch=batch), f"codes-batch-{batch.pk}.csv")

    def preview_view(self, request, pk):
        promotion = get_object_or_404(Promotion, pk=pk)
        if not self.has_view_permission(request, promotion):
            return redirect("admin:index")
        form = PreviewForm(request.POST or None, admin_site=self.admin_site)
        preview = None
        if request.method == "POST" and form.is_valid():
            preview = selectors.promotion_preview(promotion, items=form.items(), customer=form.cleaned_data["customer"])
        return TemplateResponse(
            request,
            "admin/discounts/promotion/preview.html",
            {
                **self.admin_site.each_context(request),
                "title": _("What would this cart get? %(name)s") % {"name": promotion.name},
                "opts": self.model._meta,
                "original": promotion,
                "form": form,
                "rows": form.rows(),
                "preview": preview,
                "media": self.media + form.media,
            },
            status=400 if form.errors else 200,
        )


class PreviewForm(forms.Form):
    """A customer (optional) and up to five products with quantities."""

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"] = forms.ModelChoiceField(
            User.objects.all(),
            required=False,
            label=_("Customer"),
            help_text=_("Optional: first-order, per-customer and segment conditions look at who buys."),
            widget=AutocompleteSelect(Promotion._meta.get_field("customers"), admin_site),
        )
        for n in range(1, PREVIEW_ROWS + 1):
            self.fields[f"product_{n}"] = forms.ModelChoiceField(
                Product.objects.all(),
                required=False,
                label=_("Product %(n)d") % {"n": n},
                widget=AutocompleteSelect(Promotion._meta.get_field("products"), admin_site),
            )
            self.fields[f"quantity_{n}"] = forms.IntegerField(
                min_value=1, max_value=999, initial=1, required=False, label=_("Quantity")
            )

    def rows(self):
        return [(self[f"product_{n}"], self[f"quantity_{n}"]) for n in range(1, PREVIEW_ROWS + 1)]

    def clean(self):
        data = super().clean()
        if not self.items():
            raise forms.ValidationError(_("Choose at least one product."))
        return data

    def items(self) -> list[tuple[Product, int]]:
        chosen: dict[int, list] = {}
        for n in range(1, PREVIEW_ROWS + 1):
            product = self.cleaned_data.get(f"product_{n}")
            if product is not None:
                # The same product twice is one cart line, as in a real cart.
                row = chosen.setdefault(product.pk, [product, 0])
                row[1] += self.cleaned_data.get(f"quantity_{n}") or 1
        return [(product, quantity) for product, quantity in chosen.values()]


# --- Code batches ----------------------------------------------------------------------------------------------


@admin.register(CodeBatch)
class CodeBatchAdmin(ReadOnlyAdmin):
    """Batches and their jobs: made with the promotions' “Generate single-use codes…” action, downloaded here."""

    list_display = ["id", "promotion", "prefix", "count", "status_label", "created_by", "created_at", "download"]
    list_filter = ["status", ("promotion", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["promotion", "created_by"]
    search_fields = ["promotion__name", "prefix"]
    fields = ["promotion", "prefix", "length", "count", "status_label", "error", "created_by", "created_at"]
    fields += ["finished_at", "download"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_label(self, batch):
        if batch.status in (CodeBatch.Status.PENDING, CodeBatch.Status.RUNNING):
            return _("%(status)s: %(made)s of %(count)s (%(progress)d%%)") % {
                "status": batch.get_status_display(),
                "made": f"{batch.made:,}",
                "count": f"{batch.count:,}",
                "progress": batch.progress,
            }
        return batch.get_status_display()

    @admin.display(description=gettext_lazy("codes"))
    def download(self, batch):
        if not batch.is_done:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:discounts_promotion_batch_csv", args=[batch.pk]), _("Download CSV")
        )


# --- Codes -----------------------------------------------------------------------------------------------------


class UsedFilter(admin.SimpleListFilter):
    title = gettext_lazy("used")
    parameter_name = "used"

    def lookups(self, request, model_admin):
        return [("unused", _("Never used")), ("used", _("Used")), ("used_up", _("Used up"))]

    def queryset(self, request, queryset):
        if self.value() == "unused":
            return queryset.filter(times_used=0)
        if self.value() == "used":
            return queryset.filter(times_used__gt=0)
        if self.value() == "used_up":
            return queryset.filter(max_uses__isnull=False, times_used__gte=F("max_uses"))
        return queryset


class BatchFilter(admin.SimpleListFilter):
    title = gettext_lazy("batch")
    parameter_name = "batch"

    def lookups(self, request, model_admin):
        batches = CodeBatch.objects.select_related("promotion").order_by("-created_at")[:50]
        return [("none", _("Not from a batch"))] + [
            (str(b.pk), f"#{b.pk} {b.prefix or '—'} × {b.count} ({b.promotion.name})") for b in batches
        ]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(batch__isnull=True)
        if self.value() and self.value().isdigit():
            return queryset.filter(batch_id=int(self.value()))
        return queryset


@admin.register(DiscountCode)
class DiscountCodeAdmin(admin.ModelAdmin):
    menu_order = 2  # in the menu (shop/core/admin_site.py)
    list_display = ["code", "promotion", "max_uses", "times_used", "batch_label", "created_at"]
    list_filter = [("promotion", admin.RelatedOnlyFieldListFilter), UsedFilter, BatchFilter, "created_at"]
    list_select_related = ["promotion", "batch"]
    search_fields = ["code", "promotion__name"]
    search_help_text = gettext_lazy("Search by code or promotion name.")
    list_per_page = 100
    autocomplete_fields = ["promotion"]
    fields = ["promotion", "code", "max_uses", "times_used", "batch", "created_at"]
    readonly_fields = ["times_used", "batch", "created_at"]
    actions = ["export_csv"]

    @admin.display(description=gettext_lazy("batch"), ordering="batch_id")
    def batch_label(self, code):
        return f"#{code.batch_id} ({code.batch.prefix or '—'})" if code.batch_id else "—"

    @admin.action(description=gettext_lazy("Export selected codes to CSV"))
    def export_csv(self, request, queryset):
        return codes_csv(queryset, f"codes-{_stamp()}.csv")


# --- Redemptions -----------------------------------------------------------------------------------------------


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    """A record of what was used: read only (releases happen when orders close)."""

    menu_order = 3  # in the menu (shop/core/admin_site.py)

    list_display = ["created_at", "order_link", "email", "promotion", "code", "amount", "status"]
    list_filter = ["status", ("promotion", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["order", "promotion", "code"]
    search_fields = ["order__number", "order__email", "code__code"]
    search_help_text = gettext_lazy("Search by order number, email or code.")
    date_hierarchy = "created_at"
    list_per_page = 100

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_link(self, r):
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[r.order_id]), r.order)

    @admin.display(description=gettext_lazy("email"), ordering="order__email")
    def email(self, r):
        return r.order.email
