from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, F, Q, Sum
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.catalog import csv_io, services
from shop.catalog.models import Category, ImportJob, Product, ProductImage, Review, ReviewPhoto, ReviewReport
from shop.core.admin import ReadOnlyAdmin
from shop.core.errors import ShopError
from shop.core.money_sql import from_minor_units, minor_units_sum


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["indented_name", "slug", "product_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    fields = ["parent", "name", "slug", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_products=Count("products")).order_by("path")

    @admin.display(description=gettext_lazy("name"), ordering="path")
    def indented_name(self, category):
        return format_html(
            "{}{}{}",
            "\u2003\u2002" * category.depth,  # 1.5em per level, in text: no style attribute under the CSP
            "└ " if category.depth else "",
            category.name,
        )

    @admin.display(description=gettext_lazy("products"), ordering="n_products")
    def product_count(self, category):
        return category.n_products


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 1
    fields = ["preview", "image", "alt_text", "position"]
    readonly_fields = ["preview"]

    @admin.display(description=gettext_lazy("preview"))
    def preview(self, image):
        return (
            format_html('<img src="{}" alt="" width="64" height="64" class="admin-thumb">', image.image.url)
            if image.pk and image.image
            else "—"
        )


class StockFilter(admin.SimpleListFilter):
    title = gettext_lazy("stock")
    parameter_name = "stock_status"

    def lookups(self, request, model_admin):
        return [("out", _("Out of stock")), ("low", _("Low (5 or fewer)")), ("in", _("In stock"))]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.filter(stock=0)
        if self.value() == "low":
            return queryset.filter(stock__gt=0, stock__lte=settings.SHOP_LOW_STOCK)
        if self.value() == "in":
            return queryset.filter(stock__gt=0)
        return queryset


class OnSaleFilter(admin.SimpleListFilter):
    title = gettext_lazy("on sale")
    parameter_name = "on_sale"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(compare_at_price__isnull=False)
        if self.value() == "no":
            return queryset.filter(compare_at_price__isnull=True)
        return queryset


class CategoryTreeFilter(admin.SimpleListFilter):
    """Filter by a category and everything below it."""

    title = gettext_lazy("category")
    parameter_name = "in_category"

    def lookups(self, request, model_admin):
        return [(c.slug, "— " * c.depth + c.name) for c in Category.objects.all()]

    def queryset(self, request, queryset):
        category = Category.objects.filter(slug=self.value()).first() if self.value() else None
        return queryset.in_category(category) if category else queryset


class SetStockForm(forms.Form):
    stock = forms.IntegerField(label=gettext_lazy("New stock"), min_value=0)


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"), help_text=gettext_lazy("UTF-8, with a header row."))

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > csv_io.MAX_BYTES:
            raise forms.ValidationError(csv_io.too_big_message())
        return file


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "name",
        "brand",
        "sku",
        "category",
        "price",
        "stock",
        "is_active",
        "is_featured",
        "rating_avg",
    ]
    list_display_links = ["thumbnail", "name"]
    list_editable = ["is_featured"]
    list_filter = ["is_active", "is_featured", StockFilter, OnSaleFilter, CategoryTreeFilter, "brand", "created_at"]
    list_select_related = ["category"]
    list_per_page = 50
    search_fields = ["name", "brand", "sku", "slug"]
    search_help_text = gettext_lazy("Search by name, SKU or slug.")
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["category"]
    readonly_fields = ["rating_score", "rating_avg", "rating_count", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "sku", "brand", "category", "description"]}),
        (gettext_lazy("Price and stock"), {"fields": ["price", "compare_at_price", "stock"]}),
        (gettext_lazy("Visibility"), {"fields": ["is_active", "is_featured", "created_at"]}),
        (gettext_lazy("Reviews"), {"fields": ["rating_score", "rating_avg", "rating_count", "updated_at"]}),
    ]
    inlines = [ProductImageInline]
    actions = ["activate", "deactivate", "set_stock", "export_csv"]
    change_list_template = "admin/catalog/product/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("images")

    @admin.display(description="")
    def thumbnail(self, product):
        image = product.main_image
        if not image:
            return "—"
        return format_html('<img src="{}" alt="" width="40" height="40" class="admin-thumb rounded">', image.image.url)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            filtered = response.context_data["cl"].queryset
            currency = settings.SHOP_CURRENCY
            stats = filtered.aggregate(
                count=Count("id"),
                units=Sum("stock"),
                # In cents: SQLite multiplies and adds decimals as doubles.
                stock_value=minor_units_sum(F("stock") * F("price"), currency=currency),
                out_of_stock=Count("id", filter=Q(stock=0)),
                on_sale=Count("id", filter=Q(compare_at_price__isnull=False)),
            )
            stats["stock_value"] = from_minor_units(stats["stock_value"], currency)
            response.context_data["stats"] = stats
        return response

    @admin.action(description=gettext_lazy("Activate selected products"))
    def activate(self, request, queryset):
        n = services.products_set_active(product_ids=queryset.values("pk"), active=True)
        self.message_user(request, ngettext("%d product activated.", "%d products activated.", n) % n, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Deactivate selected products (hide from the store)"))
    def deactivate(self, request, queryset):
        n = services.products_set_active(product_ids=queryset.values("pk"), active=False)
        self.message_user(
            request, ngettext("%d product deactivated.", "%d products deactivated.", n) % n, messages.SUCCESS
        )

    @admin.action(description=gettext_lazy("Set stock of selected products…"))
    def set_stock(self, request, queryset):
        form = SetStockForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            n = services.products_set_stock(product_ids=queryset.values("pk"), stock=form.cleaned_data["stock"])
            self.message_user(
                request, ngettext("Stock set on %d product.", "Stock set on %d products.", n) % n, messages.SUCCESS
            )
            return None
        return render(
            request,
            "admin/catalog/product/set_stock.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Set stock"),
                "form": form,
                "products": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=gettext_lazy("Export selected products to CSV"))
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="products-{timezone.now():%Y%m%d-%H%M}.csv"'
        csv_io.export_products(queryset, response)
        return response

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="catalog_product_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Small files are imported in the request; big ones become an ImportJob this page follows."""
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            return redirect("admin:index")
        job = self._import_job(request)
        form = ImportForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if csv_io.count_rows(upload.file) > csv_io.BACKGROUND_ROWS:
                job = csv_io.import_job_create(file=upload.file, filename=upload.name, user=request.user)
                return redirect(f"{reverse('admin:catalog_product_import')}?job={job.pk}")
            result = csv_io.import_products(upload.file)
            if result.ok:
                self.message_user(
                    request,
                    _("Imported: %(created)d created, %(updated)d updated.")
                    % {"created": result.created, "updated": result.updated},
                    messages.SUCCESS,
                )
                return redirect("admin:catalog_product_changelist")
        return TemplateResponse(
            request,
            "admin/catalog/product/import.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Import products from CSV"),
                "form": form,
                "result": result,
                "job": job,
                "columns": csv_io.COLUMNS,
                "background_rows": csv_io.BACKGROUND_ROWS,
                "opts": self.model._meta,
            },
            status=400 if result and not result.ok else 200,
        )

    def _import_job(self, request):
        job_id = request.GET.get("job", "")
        return ImportJob.objects.filter(pk=job_id).select_related("created_by").first() if job_id.isdigit() else None


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    """Background product imports: what each file did, row by row when it was refused."""

    list_display = ["filename", "status", "progress", "created", "updated", "error_count", "created_by", "created_at"]
    list_filter = ["status", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["filename", "created_by__email"]
    fields = [
        "filename",
        "status",
        "progress",
        "created",
        "updated",
        "error_count",
        "message",
        "report",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("catalog.add_product") and request.user.has_perm("catalog.change_product")

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, job):
        url = f"{reverse('admin:catalog_product_import')}?job={job.pk}"
        return format_html(
            '<a href="{}">{}</a>',
            url,
            _("%(done)d of %(total)d rows written") % {"done": job.rows_done, "total": job.rows_total},
        )

    @admin.display(description=gettext_lazy("problems found"))
    def report(self, job):
        if not job.errors:
            return "—"
        return format_html_join(
            "",
            "<div>{}</div>",
            (
                (_("row %(row)s, %(column)s: %(message)s") % {"row": r, "column": c or "—", "message": m},)
                for r, c, m in job.errors
            ),
        )


class ReviewStatusFilter(admin.SimpleListFilter):
    """The moderation queue: by state, and "reported" (reports no moderator has dealt with yet)."""

    title = gettext_lazy("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("reported", _("Reported")), *Review.Status.choices]

    def queryset(self, request, queryset):
        if self.value() == "reported":
            return queryset.filter(report_count__gt=0)
        if self.value() in Review.Status.values:
            return queryset.filter(status=self.value())
        return queryset


class HasPhotosFilter(admin.SimpleListFilter):
    title = gettext_lazy("photos")
    parameter_name = "has_photos"

    def lookups(self, request, model_admin):
        return [("yes", _("With photos")), ("no", _("Without photos"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(n_photos__gt=0) if self.value() == "yes" else queryset.filter(n_photos=0)
        return queryset


class ReviewReportInline(admin.TabularInline):
    model = ReviewReport
    extra = 0
    fields = ["reason", "comment", "user", "created_at", "resolved"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class ReviewPhotoInline(admin.TabularInline):
    model = ReviewPhoto
    extra = 0
    fields = ["preview", "width", "height"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("picture"))
    def preview(self, photo):
        return format_html(
            '<a href="{}"><img src="{}" alt="" width="96" height="96" class="admin-thumb"></a>',
            photo.image.url,
            photo.thumbnail.url,
        )


class ModerationForm(admin.helpers.ActionForm):
    note = forms.CharField(
        label=gettext_lazy("Reason (shown to the author)"),
        required=False,
        max_length=300,
        help_text=gettext_lazy("Needed to reject or remove."),
    )


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """The moderation queue. Reviews change only through the services (actions below), which keep
    the products' ratings and tell loyalty; the form is read-only."""

    list_display = [
        "product",
        "user",
        "rating",
        "title",
        "status",
        "verified",
        "report_count",
        "helpful_count",
        "photo_count",
        "created_at",
    ]
    list_filter = [ReviewStatusFilter, "verified", "rating", HasPhotosFilter, "created_at"]
    list_select_related = ["product", "user"]
    search_fields = ["product__name", "user__email", "title", "body"]
    readonly_fields = [
        "product",
        "user",
        "rating",
        "title",
        "body",
        "status",
        "verified",
        "helpful_count",
        "report_count",
        "moderation_note",
        "moderated_by",
        "moderated_at",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    inlines = [ReviewPhotoInline, ReviewReportInline]
    action_form = ModerationForm
    actions = ["approve", "reject", "remove", "restore"]
    ordering = ["-report_count", "-created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_photos=Count("photos"))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a moderator removes (the author is told why; the rating and points follow)

    @admin.display(description=gettext_lazy("photos"), ordering="n_photos")
    def photo_count(self, review):
        return review.n_photos

    def _moderate(self, request, queryset, action: str):
        note = request.POST.get("note", "")
        try:
            moved = services.reviews_moderate(
                review_ids=queryset.values_list("pk", flat=True), actor=request.user, action=action, note=note
            )
        except ShopError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request, ngettext("%d review changed.", "%d reviews changed.", moved) % moved, messages.SUCCESS
        )

    @admin.action(description=gettext_lazy("Approve (publish) selected reviews"), permissions=["change"])
    def approve(self, request, queryset):
        self._moderate(request, queryset, services.APPROVE)

    @admin.action(description=gettext_lazy("Reject selected reviews (with the reason)"), permissions=["change"])
    def reject(self, request, queryset):
        self._moderate(request, queryset, services.REJECT)

    @admin.action(description=gettext_lazy("Remove selected reviews (with the reason)"), permissions=["change"])
    def remove(self, request, queryset):
        self._moderate(request, queryset, services.REMOVE)

    @admin.action(description=gettext_lazy("Restore selected reviews"), permissions=["change"])
    def restore(self, request, queryset):
        self._moderate(request, queryset, services.RESTORE)
