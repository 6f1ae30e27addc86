from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.catalog import cache as catalog_cache
from shop.catalog import csv_io, services
from shop.catalog.forms import (
    GenerateVariantsForm,
    ProductForm,
    ProductTypeForm,
    VariantAdminForm,
    VariantForm,
    VariantFormSet,
    options_label,
    variant_form_class,
)
from shop.catalog.models import (
    Attribute,
    AttributeValue,
    Category,
    ImportJob,
    Product,
    ProductImage,
    ProductType,
    Review,
    ReviewPhoto,
    ReviewReport,
    Variant,
    VariantOption,
)
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
    fields = ["preview", "image", "alt_text", "variant", "position"]
    readonly_fields = ["preview"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # A picture shows one of this product's variants (or all of them: empty). The choices are read
        # once for every row (a queryset alone would be read again for each picture).
        field = formset.form.base_fields.get("variant")
        if field is not None:
            mine = Variant.objects.filter(product=obj) if obj is not None and obj.pk else Variant.objects.none()
            field.queryset = mine
            field.choices = [
                ("", "—"),
                *((v.pk, variant_label(v)) for v in _variants_with_options().filter(pk__in=mine)),
            ]
        return formset

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


class VariantsFilter(admin.SimpleListFilter):
    title = gettext_lazy("variants")
    parameter_name = "variants"

    def lookups(self, request, model_admin):
        return [
            ("several", _("Several variants")),
            ("single", _("A single variant")),
            ("sold_out", _("A variant sold out")),
        ]

    def queryset(self, request, queryset):
        several = Variant.objects.values("product").annotate(n=Count("pk")).filter(n__gt=1).values("product")
        if self.value() == "several":
            return queryset.filter(pk__in=several)
        if self.value() == "single":
            return queryset.exclude(pk__in=several)
        if self.value() == "sold_out":
            sold_out = Variant.objects.filter(product=OuterRef("pk"), is_active=True, stock=0)
            return queryset.filter(Exists(sold_out), pk__in=several)
        return queryset


class SetStockForm(forms.Form):
    stock = forms.IntegerField(
        label=gettext_lazy("New stock"),
        min_value=0,
        help_text=gettext_lazy(
            "Each active variant of the selected products gets this stock; a product's stock becomes the sum "
            "of its active variants' (with 3 variants, 3 times this number)."
        ),
    )


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"), help_text=gettext_lazy("UTF-8, with a header row."))

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > csv_io.MAX_BYTES:
            raise forms.ValidationError(csv_io.too_big_message())
        return file


# The stock column shows this many variants, then how many more.
VARIANTS_SHOWN = 8
VARIANT_FIELDS = ["sku", "price", "compare_at_price", "stock", "weight", "position", "is_active"]


def _variants_with_options():
    """Variants with their options' values, in two queries for any number of products."""
    options = VariantOption.objects.select_related("value")
    return Variant.objects.prefetch_related(Prefetch("options", queryset=options))


def _nowrap(text: str) -> str:
    # No-break spaces: a long list wraps between variants, never inside one (no style attribute under the CSP).
    return text.replace(" ", "\u00a0")


def variant_label(variant) -> str:
    """ "Red / M", or its SKU when it has no options (prefetch options__value)."""
    return options_label(option.value for option in variant.options.all()) or variant.sku


class VariantInline(admin.TabularInline):
    """A product's variants, each with a value of each variant attribute of the product's type."""

    model = Variant
    form = VariantForm
    formset = VariantFormSet
    extra = 0
    verbose_name_plural = gettext_lazy("Variants (options, SKU, price, stock)")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("options")

    def _form_class(self, request, obj):
        """The form for the product's type: on a POST, the type posted (Django builds the formsets
        before the product's form is cleaned), so a new product's variants can have options at once
        and a changed type shows its own attributes. Built once a request (its choices read once)."""
        product_type = obj.product_type if obj is not None and obj.product_type_id else None
        if request.method == "POST" and "product_type" in request.POST:
            posted = request.POST["product_type"]
            product_type = ProductType.objects.filter(pk=int(posted)).first() if posted.isdigit() else None
        key = (obj.pk if obj is not None else None, product_type.pk if product_type else None)
        if getattr(self, "_built_for", None) != key:
            self._built_for, self._form = key, variant_form_class(product=obj, product_type=product_type)
        return self._form

    def get_fields(self, request, obj=None):
        return [*self._form_class(request, obj).option_fields, *VARIANT_FIELDS]

    def get_formset(self, request, obj=None, **kwargs):
        return super().get_formset(request, obj, form=self._form_class(request, obj), **kwargs)


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
        "variant_stock",
        "is_active",
        "is_featured",
        "rating_avg",
    ]
    list_display_links = ["thumbnail", "name"]
    list_editable = ["is_featured"]
    list_filter = [
        "is_active",
        "is_featured",
        StockFilter,
        VariantsFilter,
        OnSaleFilter,
        CategoryTreeFilter,
        "product_type",
        "brand",
        "created_at",
    ]
    list_select_related = ["category"]
    list_per_page = 50
    search_fields = ["name", "brand", "sku", "slug"]
    search_help_text = gettext_lazy("Search by name, SKU or slug.")
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["category"]
    form = ProductForm
    readonly_fields = ["rating_score", "rating_avg", "rating_count", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "sku", "brand", "category", "description"]}),
        (gettext_lazy("Type and attributes"), {"fields": ["product_type", "attribute_values"]}),
        (gettext_lazy("Price and stock"), {"fields": ["price", "compare_at_price", "stock"]}),
        (gettext_lazy("Visibility"), {"fields": ["is_active", "is_featured", "created_at"]}),
        (gettext_lazy("Reviews"), {"fields": ["rating_score", "rating_avg", "rating_count", "updated_at"]}),
    ]
    inlines = [VariantInline, ProductImageInline]
    actions = ["activate", "deactivate", "set_stock", "export_csv"]
    change_list_template = "admin/catalog/product/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("images", Prefetch("variants", _variants_with_options()))

    @staticmethod
    def _several_variants(obj) -> bool:
        return obj is not None and obj.pk is not None and len(obj.variants.all()[:2]) > 1

    def get_fieldsets(self, request, obj=None):
        """A product with several variants shows its stock (their sum) rather than a field for it."""
        fieldsets = super().get_fieldsets(request, obj)
        if not self._several_variants(obj):
            return fieldsets
        return [
            (title, {**options, "fields": ["summed_stock" if f == "stock" else f for f in options["fields"]]})
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "summed_stock"] if self._several_variants(obj) else readonly

    @admin.display(description=gettext_lazy("stock"))
    def summed_stock(self, product):
        return format_html(
            '{}<br><span class="help">{}</span>',
            product.stock,
            _("The sum of the active variants' stock: set it per variant below."),
        )

    @admin.display(description=gettext_lazy("stock by variant"))
    def variant_stock(self, product):
        variants = [variant for variant in product.variants.all() if variant.is_active]
        if len(variants) < 2:
            return "—"
        shown = format_html_join(
            " · ",
            '<span class="{}">{}</span>',
            (
                ("tone-bad" if not v.stock else "", _nowrap(f"{variant_label(v)} {v.stock}"))
                for v in variants[:VARIANTS_SHOWN]
            ),
        )
        more = len(variants) - VARIANTS_SHOWN
        if more > 0:
            return format_html("{} · {}", shown, _nowrap(ngettext("%d more", "%d more", more) % more))
        return shown

    def save_model(self, request, obj, form, change):
        # A stock typed by staff (a new or single-variant product) is written; otherwise it is left as
        # sales have made it while the form was open.
        services.product_admin_save(product=obj, stock_given="stock" in form.changed_data or not change)

    def save_related(self, request, form, formsets, change):
        product = form.instance
        variants = next((fs for fs in formsets if fs.model is Variant), None)
        if (
            not change
            and variants is not None
            and any(f.has_changed() and not variants._should_delete_form(f) for f in variants.extra_forms)
        ):
            services.variants_drop_default(product=product)
        super().save_related(request, form, formsets, change)
        if "attribute_values" in form.cleaned_data:
            services.product_set_attribute_values(product=product, values=form.cleaned_data["attribute_values"])
        services.product_variants_saved(product=product)

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

    @admin.action(description=gettext_lazy("Activate selected products"), permissions=["change"])
    def activate(self, request, queryset):
        n = services.products_set_active(product_ids=queryset.values("pk"), active=True)
        self.message_user(request, ngettext("%d product activated.", "%d products activated.", n) % n, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy("Deactivate selected products (hide from the store)"), permissions=["change"]
    )
    def deactivate(self, request, queryset):
        n = services.products_set_active(product_ids=queryset.values("pk"), active=False)
        self.message_user(
            request, ngettext("%d product deactivated.", "%d products deactivated.", n) % n, messages.SUCCESS
        )

    @admin.action(description=gettext_lazy("Set stock of selected products…"), permissions=["change"])
    def set_stock(self, request, queryset):
        form = SetStockForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            n = services.products_set_stock(product_ids=queryset.values("pk"), stock=form.cleaned_data["stock"])
            self.message_user(
                request,
                ngettext("Stock set on %d product.", "Stock set on %d products.", n) % n
                + " "
                + _("Each active variant has %(stock)d; a product's stock is their sum.")
                % {"stock": form.cleaned_data["stock"]},
                messages.SUCCESS,
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
            path(
                "<path:object_id>/generate-variants/",
                self.admin_site.admin_view(self.generate_variants_view),
                name="catalog_product_generate_variants",
            ),
            *super().get_urls(),
        ]

    def generate_variants_view(self, request, object_id):
        """Staff tick values of each variant attribute; every combination the product lacks becomes a variant."""
        product = self.get_object(request, unquote(object_id))
        if product is None:
            raise Http404(_("This product no longer exists."))
        if not self.has_change_permission(request, product):
            raise PermissionDenied
        change_url = reverse("admin:catalog_product_change", args=[product.pk])
        try:
            attributes = services.variant_attributes_of(product)
        except ShopError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(change_url)
        form = GenerateVariantsForm(request.POST or None, attributes=attributes)
        if request.method == "POST" and form.is_valid():
            try:
                done = services.variants_generate(product=product, values=form.chosen())
            except ShopError as exc:
                form.add_error(None, exc.message)
            else:
                self._generated_messages(request, product, done)
                return redirect(change_url)
        return TemplateResponse(
            request,
            "admin/catalog/product/generate_variants.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Generate variants of %(name)s") % {"name": product.name},
                "form": form,
                "product": product,
                "example": services.generated_sku_example(product=product, attributes=attributes),
                "opts": self.model._meta,
                "original": product,
            },
            status=400 if form.errors else 200,
        )

    def _generated_messages(self, request, product, done):
        created = ngettext("%(n)d variant created", "%(n)d variants created", done.created) % {"n": done.created}
        skipped = ngettext(
            "%(n)d combination existed already and was skipped.",
            "%(n)d combinations existed already and were skipped.",
            done.skipped,
        ) % {"n": done.skipped}
        text = f"{created}; {skipped}" if done.skipped else f"{created}."
        if done.replaced:
            text += " " + _("They replace the default variant, which had no options and no stock.")
        self.message_user(request, text, messages.SUCCESS if done.created else messages.WARNING)
        bare = list(product.variants.filter(options__isnull=True).values_list("sku", flat=True)) if done.created else []
        if bare:
            self.message_user(
                request,
                _("%(skus)s has no options: give it a value of each below, or delete it.") % {"skus": ", ".join(bare)},
                messages.WARNING,
            )

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


def swatch(value) -> str:
    """A value's colour as a small square (an SVG fill: no style attribute under the CSP)."""
    if not value.swatch:
        return ""
    return format_html(
        '<svg class="swatch" width="14" height="14" viewBox="0 0 14 14" role="img" aria-label="{}">'
        '<rect x="0.5" y="0.5" width="13" height="13" rx="3" fill="{}" stroke="#6b7280"/></svg>',
        value.swatch,
        value.swatch,
    )


class CatalogChangesAdmin(admin.ModelAdmin):
    """Types and attributes show on product pages and in the filters: a change drops cached pages."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        catalog_cache.changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        catalog_cache.changed()


@admin.register(ProductType)
class ProductTypeAdmin(CatalogChangesAdmin):
    form = ProductTypeForm
    list_display = ["name", "slug", "variant_attribute_names", "product_attribute_names", "product_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["variant_attributes", "product_attributes"]
    fields = ["name", "slug", "variant_attributes", "product_attributes"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_products=Count("products", distinct=True))
            .prefetch_related("variant_attributes", "product_attributes")
        )

    @admin.display(description=gettext_lazy("variant attributes"))
    def variant_attribute_names(self, product_type):
        return ", ".join(a.name for a in product_type.variant_attributes.all()) or "—"

    @admin.display(description=gettext_lazy("product attributes"))
    def product_attribute_names(self, product_type):
        return ", ".join(a.name for a in product_type.product_attributes.all()) or "—"

    @admin.display(description=gettext_lazy("products"), ordering="n_products")
    def product_count(self, product_type):
        url = reverse("admin:catalog_product_changelist") + f"?product_type__id__exact={product_type.pk}"
        return format_html('<a href="{}">{}</a>', url, product_type.n_products)


class AttributeValueInline(admin.TabularInline):
    model = AttributeValue
    extra = 3
    fields = ["name", "slug", "position", "swatch", "swatch_preview"]
    readonly_fields = ["swatch_preview"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description=gettext_lazy("colour"))
    def swatch_preview(self, value):
        return swatch(value) or "—"


@admin.register(Attribute)
class AttributeAdmin(CatalogChangesAdmin):
    list_display = ["name", "slug", "value_list", "value_count"]
    search_fields = ["name", "slug", "values__name"]
    search_help_text = gettext_lazy("Search by name, slug or one of its values.")
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug"]
    inlines = [AttributeValueInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_values=Count("values")).prefetch_related("values")

    @admin.display(description=gettext_lazy("values"))
    def value_list(self, attribute):
        values = list(attribute.values.all())
        shown = format_html_join(", ", "{}{}", ((swatch(v), v.name) for v in values[:VARIANTS_SHOWN]))
        if len(values) > VARIANTS_SHOWN:
            more = len(values) - VARIANTS_SHOWN
            return format_html("{}, {}", shown, ngettext("%d more", "%d more", more) % more)
        return shown or "—"

    @admin.display(description=gettext_lazy("number of values"), ordering="n_values")
    def value_count(self, attribute):
        return attribute.n_values


class OptionValueFilter(admin.SimpleListFilter):
    title = gettext_lazy("option")
    parameter_name = "option"

    def lookups(self, request, model_admin):
        used = AttributeValue.objects.filter(pk__in=VariantOption.objects.values("value"))
        values = used.select_related("attribute").order_by("attribute__name", "position", "pk")
        return [(str(v.pk), f"{v.attribute.name}: {v.name}") for v in values]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(options__value_id=int(value)) if value and value.isdigit() else queryset


class VariantStockFilter(admin.SimpleListFilter):
    title = gettext_lazy("stock")
    parameter_name = "stock_status"

    def lookups(self, request, model_admin):
        return [("out", _("Sold out")), ("in", _("In stock"))]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.filter(stock=0)
        if self.value() == "in":
            return queryset.filter(stock__gt=0)
        return queryset


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    """Every variant of every product, to find and restock them. They are added and deleted on their
    product's page (where each combination of options is checked against the others')."""

    list_display = ["sku", "product_link", "options_text", "unit_price", "stock", "is_active"]
    list_display_links = ["sku"]
    list_editable = ["stock"]
    list_filter = [VariantStockFilter, "is_active", "product__product_type", OptionValueFilter]
    list_select_related = ["product"]
    list_per_page = 100
    search_fields = ["sku", "product__name"]
    search_help_text = gettext_lazy("Search by SKU or product name.")
    readonly_fields = ["product_link"]
    form = VariantAdminForm
    actions = ["mark_sold_out"]

    def get_queryset(self, request):
        options = VariantOption.objects.select_related("value")
        return super().get_queryset(request).prefetch_related(Prefetch("options", queryset=options))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # on the product's page, which keeps at least one variant

    def _form_class(self, obj):
        key = obj.pk if obj is not None else None
        if getattr(self, "_built_for", False) != key:
            product = obj.product if obj is not None else None
            product_type = product.product_type if product is not None and product.product_type_id else None
            self._built_for = key
            self._form = variant_form_class(product=product, product_type=product_type, base=VariantAdminForm)
        return self._form

    def get_fields(self, request, obj=None):
        return ["product_link", *self._form_class(obj).option_fields, *VARIANT_FIELDS]

    def get_form(self, request, obj=None, change=False, **kwargs):
        return super().get_form(request, obj, change, form=self._form_class(obj), **kwargs)

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=forms.ModelForm, **kwargs)

    def save_model(self, request, obj, form, change):
        # Only what the form changed (the stock column, or the page's fields): a sale meanwhile stays.
        fields = [name for name in form.changed_data if name in VARIANT_FIELDS]
        services.variant_save(variant=obj, fields=fields)

    @admin.display(description=gettext_lazy("product"), ordering="product__name")
    def product_link(self, variant):
        url = reverse("admin:catalog_product_change", args=[variant.product_id])
        return format_html('<a href="{}">{}</a>', url, variant.product.name)

    @admin.display(description=gettext_lazy("options"))
    def options_text(self, variant):
        return options_label(option.value for option in variant.options.all()) or "—"

    @admin.display(description=gettext_lazy("price"))
    def unit_price(self, variant):
        return variant.price_money.format()

    @admin.action(description=gettext_lazy("Mark selected variants sold out"), permissions=["change"])
    def mark_sold_out(self, request, queryset):
        n = services.variants_mark_sold_out(variant_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("%d variant marked sold out.", "%d variants marked sold out.", n) % n,
            messages.SUCCESS,
        )


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
