"""The recommendations in the admin: shelves turned on and off with their figures, pins and blocks,
what the model learned for each product, and the builds (with a button to build now)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Count
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from marketing.recommendations import figures, tasks
from marketing.recommendations.models import Build, Neighbours, Rule, ShelfSetting
from shop.catalog.models import Product
from shop.core.money import Money
from shop.core.queue import enqueue

FIGURE_DAYS = 30


@admin.register(ShelfSetting)
class ShelfSettingAdmin(admin.ModelAdmin):
    menu_order = 1  # in the menu (shop/core/admin_site.py)
    list_display = ["shelf", "enabled", "size", "where"]
    list_editable = ["enabled", "size"]
    list_display_links = ["shelf"]
    actions = ["turn_on", "turn_off"]
    fields = ["shelf", "enabled", "size"]
    readonly_fields = ["shelf"]

    WHERE = {
        "bought_together": _("product page"),
        "viewed_together": _("product page"),
        "complete_order": _("cart"),
        "for_you": _("home page"),
        "trending": _("home page"),
        "recently_viewed": _("home page"),
        "after_order": _("order confirmation"),
    }

    @admin.display(description=_("shown on"))
    def where(self, obj):
        return self.WHERE.get(obj.shelf, "")

    def get_list_display(self, request):
        """The shelves with their last 30 days' figures (read from the daily figures, once per page)."""
        last = timezone.localdate()
        totals = figures.shelf_totals(last - dt.timedelta(days=FIGURE_DAYS - 1), last)

        def column(name, label, show=str):
            def value(obj):
                found = totals.get(obj.shelf, {}).get(name)
                return "–" if found is None else show(found)

            value.short_description = label
            value.__name__ = name
            return value

        return [
            *self.list_display,
            column("impressions", _("shown (30 days)"), intcomma),
            column("clicks", _("clicks"), intcomma),
            column("ctr", _("click rate"), lambda ctr: f"{ctr * 100:.1f} %"),
            column("add_to_carts", _("added to cart"), intcomma),
            column("orders", _("orders"), intcomma),
            column("revenue", _("revenue"), lambda amount: Money(amount, settings.SHOP_CURRENCY).format()),
        ]

    def has_add_permission(self, request):
        return False  # one row per shelf, made by a migration

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Show the selected shelves"), permissions=["change"])
    def turn_on(self, request, queryset):
        self._switch(request, queryset, True)

    @admin.action(description=_("Hide the selected shelves"), permissions=["change"])
    def turn_off(self, request, queryset):
        self._switch(request, queryset, False)

    def _switch(self, request, queryset, on: bool):
        changed = 0
        for setting in queryset.exclude(enabled=on):  # saved one by one: each save forgets the cached shelves
            setting.enabled = on
            setting.save(update_fields=["enabled"])
            changed += 1
        message = (
            ngettext("%(n)d shelf is now shown.", "%(n)d shelves are now shown.", changed)
            if on
            else ngettext("%(n)d shelf is now hidden.", "%(n)d shelves are now hidden.", changed)
        )
        self.message_user(request, message % {"n": changed}, messages.SUCCESS)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    menu_order = 2
    list_display = ["product", "action", "target", "position", "note", "created_at"]
    list_filter = ["action", "created_at"]
    search_fields = ["product__name", "product__sku", "target__name", "target__sku", "note"]
    autocomplete_fields = ["product", "target"]
    list_select_related = ["product", "target"]
    fields = ["product", "action", "target", "position", "note"]
    date_hierarchy = "created_at"


@admin.register(Neighbours)
class NeighboursAdmin(admin.ModelAdmin):
    """What the last build learned: each product's closest products, read-only."""

    menu_order = 3
    list_display = ["product", "table", "count"]
    list_filter = ["table"]
    search_fields = ["product__name", "product__sku"]
    list_select_related = ["product"]
    fields = ["product", "table", "neighbours"]
    readonly_fields = fields

    @admin.display(description=_("products"))
    def count(self, obj):
        return len(obj.items)

    def get_list_display(self, request):
        def closest(obj):
            names = getattr(request, "_neighbour_names", {})
            return ", ".join(names.get(pk, f"#{pk}") for pk, _score in obj.items[:3])

        closest.short_description = _("closest")
        return [*self.list_display, closest]

    def get_changelist_instance(self, request):
        """The page's rows, and the names of their closest products in one query."""
        changelist = super().get_changelist_instance(request)
        ids = {pk for row in changelist.result_list for pk, _score in row.items[:3]}
        request._neighbour_names = self._names(list(ids))
        return changelist

    @admin.display(description=_("neighbours, closest first"))
    def neighbours(self, obj):
        names = self._names([pk for pk, _score in obj.items])
        rows = [(names.get(pk, f"#{pk}"), f"{score:.3f}") for pk, score in obj.items]
        return format_html(
            '<table class="neighbours"><thead><tr><th scope="col">{}</th><th scope="col">{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("Product"),
            _("Similarity"),
            format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows),
        )

    def _names(self, ids: list[int]) -> dict[int, str]:
        return dict(Product.objects.filter(pk__in=ids).values_list("pk", "name"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    menu_order = 4
    list_display = ["started_at", "status", "products", "interactions", "seconds", "peak_memory_mib"]
    list_filter = ["status"]
    date_hierarchy = "started_at"
    readonly_fields = [
        "started_at", "finished_at", "status", "products", "interactions", "seconds", "peak_memory_mib", "message"
    ]  # fmt: skip
    fields = readonly_fields
    change_list_template = "admin/recommendations/build/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        since = timezone.now() - dt.timedelta(days=FIGURE_DAYS)
        recent = Build.objects.filter(started_at__gte=since).values("status").annotate(n=Count("id"))
        extra = {"recent": {row["status"]: row["n"] for row in recent}, "can_build": self._can_build(request)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def _can_build(self, request) -> bool:
        return request.user.has_perm("recommendations.add_neighbours") or request.user.is_superuser

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("build-now/", view(self.build_now_view), name="recommendations_build_now"), *super().get_urls()]

    def build_now_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self._can_build(request):
            messages.error(request, _("Building the recommendations needs the permission to add similar products."))
        else:
            if enqueue(tasks.build):
                messages.success(
                    request,
                    _("A build has been queued: its row appears here when it starts, with its figures when it ends."),
                )
            else:
                messages.warning(
                    request, _("The task queue is not answering: try again in a moment (the nightly build still runs).")
                )
        return redirect(reverse("admin:recommendations_build_changelist"))
