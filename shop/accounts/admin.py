from axes.admin import AccessAttemptAdmin as BaseAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Exists, OuterRef
from django.shortcuts import render
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from shop.accounts import privacy, services
from shop.accounts.forms import AdminLoginForm
from shop.accounts.models import Address, Channel, Consent, ConsentChange, Erasure, Profile, User
from shop.core.errors import ShopError

# The admin's login door shares the store's lockout and says so when it is locked.
admin.site.login_form = AdminLoginForm


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    readonly_fields = ["analytics_consent_at", "updated_at"]


class ConsentInline(admin.TabularInline):
    """Current answers, read-only: a consent is the customer's to give (the account page, a link)."""

    model = Consent
    extra = 0
    fields = ["channel", "given", "changed_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ConsentChangeInline(admin.TabularInline):
    """The evidence behind each answer."""

    model = ConsentChange
    extra = 0
    fields = ["at", "channel", "given", "source", "wording"]
    readonly_fields = fields
    can_delete = False
    classes = ["collapse"]
    verbose_name_plural = _("consent history")

    def has_add_permission(self, request, obj=None):
        return False


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0
    fields = ["full_name", "line1", "city", "region", "postal_code", "country", "is_default"]


class EmailConsentFilter(admin.SimpleListFilter):
    title = _("marketing emails")
    parameter_name = "email_consent"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(email_consent=self.value() == "1")
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["-date_joined"]
    list_display = ["email", "first_name", "last_name", "city", "region", "consent", "is_staff", "date_joined"]
    list_filter = [
        "is_staff",
        "is_active",
        EmailConsentFilter,
        "profile__gender",
        "profile__country",
        ("date_joined", admin.DateFieldListFilter),
    ]
    list_select_related = ["profile"]
    search_fields = ["email", "first_name", "last_name", "profile__city", "profile__region"]
    inlines = [ProfileInline, AddressInline, ConsentInline, ConsentChangeInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Name"), {"fields": ["first_name", "last_name"]}),
        (_("Permissions"), {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    actions = ["unlock_login", "erase_personal_data"]

    @admin.action(description=_("Unlock login (forget failed attempts)"), permissions=["change"])
    def unlock_login(self, request, queryset):
        removed = sum(services.login_lockout_reset(email=user.email) for user in queryset)
        self.message_user(request, _unlocked_message(removed))

    @admin.action(description=_("Erase personal data…"), permissions=["change"])
    def erase_personal_data(self, request, queryset):
        """The customers' erasure (docs/privacy.md), as if they had asked: a confirmation page first,
        listing those that cannot be erased yet and why."""
        customers = [(user, privacy.erasure_blockers(user=user)) for user in queryset.order_by("pk")]
        if "apply" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "title": gettext("Erase personal data"),
                "customers": customers,
                "erasable": sum(1 for _user, blockers in customers if not blockers),
                "summary": privacy.erasure_summary(),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return render(request, "admin/accounts/user/erase.html", context)
        erased = 0
        for user, blockers in customers:
            if blockers:
                continue
            try:
                privacy.customer_erase(user=user, requested_by=Erasure.By.STAFF, staff=request.user)
            except ShopError as exc:  # an order placed since the page was shown, or erased meanwhile
                self.message_user(request, f"#{user.pk}: {exc.message}", messages.WARNING)
            else:
                erased += 1
        self.message_user(
            request,
            ngettext("%(n)d account erased.", "%(n)d accounts erased.", erased) % {"n": erased},
            messages.SUCCESS if erased else messages.WARNING,
        )
        return None

    @admin.display(description=_("city"), ordering="profile__city")
    def city(self, user):
        return getattr(getattr(user, "profile", None), "city", "")

    @admin.display(description=_("region"), ordering="profile__region")
    def region(self, user):
        return getattr(getattr(user, "profile", None), "region", "")

    def get_queryset(self, request):
        given = Consent.objects.filter(user=OuterRef("pk"), channel=Channel.EMAIL, given=True)
        return super().get_queryset(request).annotate(email_consent=Exists(given))

    @admin.display(description=_("marketing emails"), boolean=True, ordering="email_consent")
    def consent(self, user):
        return user.email_consent


def _unlocked_message(removed: int) -> str:
    return ngettext(
        "%(count)d failed-login record removed: the login is unlocked.",
        "%(count)d failed-login records removed: the logins are unlocked.",
        removed,
    ) % {"count": removed}


@admin.register(AccessAttempt)
class AccessAttemptAdmin(BaseAccessAttemptAdmin):
    """Failed logins per account and client (django-axes); deleting them unlocks.

    Find a customer by email or a client by address; "Unlock" removes the selected records.
    """

    list_display = ["username", "ip_address", "failures_since_start", "status", "attempt_time", "path_info"]
    search_fields = ["username", "ip_address"]
    actions = ["unlock", "cleanup_expired_attempts"]

    @admin.action(description=_("Unlock: forget these failed attempts"), permissions=["delete"])
    def unlock(self, request, queryset):
        self.message_user(request, _unlocked_message(services.login_attempts_delete(attempts=queryset)))


@admin.register(Erasure)
class ErasureAdmin(admin.ModelAdmin):
    """The record of erased accounts: who asked, and when. Written only by the erasure itself."""

    list_display = ["customer_id", "at", "by", "staff"]
    list_filter = ["by"]
    search_fields = ["customer_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
