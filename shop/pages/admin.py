from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from shop.pages.models import Page


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ["title", "group", "position", "is_published", "updated_at"]
    list_editable = ["position", "is_published"]
    list_filter = ["group", "is_published"]
    search_fields = ["title", "body"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "body"]}),
        (_("Where it shows"), {"fields": ["group", "position", "is_published", "updated_at"]}),
    ]
