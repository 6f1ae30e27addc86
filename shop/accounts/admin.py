from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from shop.accounts.models import Address, Profile, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    readonly_fields = ["marketing_consent_at", "updated_at"]


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0
    fields = ["full_name", "line1", "city", "region", "postal_code", "country", "is_default"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["-date_joined"]
    list_display = ["email", "first_name", "last_name", "city", "region", "consent", "is_staff", "date_joined"]
    list_filter = [
        "is_staff",
        "is_active",
        "profile__marketing_consent",
        "profile__gender",
        "profile__country",
        ("date_joined", admin.DateFieldListFilter),
    ]
    list_select_related = ["profile"]
    search_fields = ["email", "first_name", "last_name", "profile__city", "profile__region"]
    inlines = [ProfileInline, AddressInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Name"), {"fields": ["first_name", "last_name"]}),
        (_("Permissions"), {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    @admin.display(description=_("city"), ordering="profile__city")
    def city(self, user):
        return getattr(getattr(user, "profile", None), "city", "")

    @admin.display(description=_("region"), ordering="profile__region")
    def region(self, user):
        return getattr(getattr(user, "profile", None), "region", "")

    @admin.display(description=_("marketing emails"), boolean=True, ordering="profile__marketing_consent")
    def consent(self, user):
        return getattr(getattr(user, "profile", None), "marketing_consent", False)
