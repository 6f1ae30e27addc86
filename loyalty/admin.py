"""The loyalty admin: the program's rules, tiers, members (with point adjustments), the ledger, referrals,
expiry reminders, and an overview of what the program owes and how points move.

The ledger is append-only: nothing here edits an entry. Points change through loyalty.services only
(the adjust form, the tier button); every other page is a read.
"""

import csv
import datetime as dt
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from loyalty import selectors, services, tasks
from loyalty.admin_home import ledger_reference, points_text
from loyalty.models import Account, ExpiryNotice, LedgerEntry, LotUse, Program, Referral, Tier
from loyalty.program import current
from shop.core.admin import ReadOnlyAdmin
from shop.core.csvsafe import escape as _cell
from shop.core.errors import ShopError
from shop.core.money import Money, decimal_places
from shop.core.queue import enqueue

MEMBER_PAGE_ENTRIES = 30
MONTHS = 12
EXAMPLE_ORDER = Decimal(100)
EXAMPLE_POINTS = 1000
MAX_ADJUSTMENT = 1_000_000  # a typo guard: ten times the biggest reward anyone would mean to give


def _points(n: int | None) -> str:
    return formats.number_format(n or 0, force_grouping=True)


def _signed(n: int) -> str:
    text = ("+" if n > 0 else "−") + _points(abs(n))
    return format_html('<span class="tone-{}">{}</span>', "good" if n > 0 else "bad", text)


def _day(value) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATE_FORMAT") if value else "—"


def _member_link(account_id: int, email: str):
    return format_html('<a href="{}">{}</a>', reverse("admin:loyalty_account_change", args=[account_id]), email)


def _order_link(order):
    if order is None:
        return "—"
    return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order.number)


def titled(title):
    """A date filter with a title of our choosing (the ledger's date field is called "at")."""

    class DateFilter(admin.DateFieldListFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return DateFilter


# --- Program rules ---------------------------------------------------------------------------------------------


def rules_example() -> dict:
    """What the saved rules mean for a customer, in figures (the change form shows it; a script redoes it live)."""
    rules = current()
    currency = settings.SHOP_CURRENCY
    return {
        "order": Money(EXAMPLE_ORDER, currency),
        "earned": rules.earned_on(EXAMPLE_ORDER, None),
        "tiers": [
            {"tier": tier, "earned": rules.earned_on(EXAMPLE_ORDER, tier.pk)}
            for tier in rules.tiers
            if tier.multiplier != 1
        ],
        "points": EXAMPLE_POINTS,
        "value": rules.points_value(EXAMPLE_POINTS),
        "min_value": rules.points_value(rules.program.min_redeem_points),
        "decimals": decimal_places(currency),
        "program": rules.program,
    }


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    """One row (pk=1): the list is skipped, the form is the page."""

    fieldsets = [
        (gettext_lazy("Earning"), {"fields": ["is_active", "earn_rate"]}),
        (gettext_lazy("Redeeming"), {"fields": ["redeem_rate", "min_redeem_points", "max_redeem_percent"]}),
        (gettext_lazy("Pending and expiry"), {"fields": ["pending_days", "expiry_days", "expiry_reminder_days"]}),
        (gettext_lazy("Tiers"), {"fields": ["tier_window_days"]}),
        (gettext_lazy("Rewards"), {"fields": ["signup_points", "review_points", "birthday_points"]}),
        (
            gettext_lazy("Referrals"),
            {
                "fields": [
                    "referral_points",
                    "referral_discount_percent",
                    "referral_discount_max",
                    "referral_monthly_cap",
                ]
            },
        ),
    ]
    change_form_template = "admin/loyalty/program/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        program, _created = Program.objects.get_or_create(pk=1)
        return redirect("admin:loyalty_program_change", program.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "example": rules_example()}
        return super().change_view(request, object_id, form_url, extra_context)

    def response_change(self, request, obj):
        # "Save" would go to the list, which is this page again: stay, with the new example.
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            self.message_user(request, _("The program rules were saved; they apply from now on."), messages.SUCCESS)
            return redirect("admin:loyalty_program_change", obj.pk)
        return super().response_change(request, obj)


# --- Tiers -----------------------------------------------------------------------------------------------------


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "min_spend", "multiplier", "perks", "members"]
    list_display_links = ["name"]
    list_editable = ["min_spend", "multiplier", "perks"]
    change_list_template = "admin/loyalty/tier/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_members=Count("accounts"))

    @admin.display(description=gettext_lazy("members"), ordering="n_members")
    def members(self, tier):
        url = reverse("admin:loyalty_account_changelist") + f"?tier__id__exact={tier.pk}"
        return format_html('<a href="{}">{}</a>', url, _points(tier.n_members))

    def may_reassign(self, request) -> bool:
        # It moves members, so it needs the right to change members, not only tiers.
        return self.has_change_permission(request) and request.user.has_perm("loyalty.change_account")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_reassign": self.may_reassign(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("reassign/", view(self.reassign_view), name="loyalty_tier_reassign"), *super().get_urls()]

    def reassign_view(self, request):
        """The list's button (POST): everyone is placed again by their spend, e.g. after the tiers changed."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.may_reassign(request):
            raise PermissionDenied
        # Every member, one short transaction each: a background job, not this request.
        if not enqueue(tasks.reassign_tiers):
            self.message_user(
                request,
                _("The task queue is not answering: nothing was started. Try again in a moment."),
                messages.WARNING,
            )
            return redirect("admin:loyalty_tier_changelist")
        self.message_user(
            request,
            _("Every member is being placed in their tier again, in the background; tier changes show as it goes."),
            messages.SUCCESS,
        )
        return redirect("admin:loyalty_tier_changelist")


# --- Members ---------------------------------------------------------------------------------------------------


def _spendable_lots(prefix: str, now) -> Q:
    """Lots usable now: positive, past their pending period, not past their expiry (as services.lots)."""
    return Q(**{f"{prefix}points__gt": 0}) & (
        (Q(**{f"{prefix}available_at__isnull": True}) | Q(**{f"{prefix}available_at__lte": now}))
        & (Q(**{f"{prefix}expires_at__isnull": True}) | Q(**{f"{prefix}expires_at__gt": now}))
    )


def with_available(queryset, *, now=None):
    """Annotate `available` (points spendable now) in the same query as the list.

    services.available_points sums each lot's remaining points; since the uses of a lot never exceed
    its points, that is the spendable lots' points less their uses: two correlated sums, no N+1.
    """
    now = now or timezone.now()
    granted = (
        LedgerEntry.objects.filter(_spendable_lots("", now), account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(n=Sum("points"))
        .values("n")
    )
    used = (
        LotUse.objects.filter(_spendable_lots("lot__", now), lot__account=OuterRef("pk"))
        .order_by()
        .values("lot__account")
        .annotate(n=Sum("points"))
        .values("n")
    )
    return queryset.annotate(
        available=Coalesce(Subquery(granted), Value(0)) - Coalesce(Subquery(used), Value(0)),
    )


class TierFilter(admin.RelatedFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = _("No tier")


class PointsFilter(admin.SimpleListFilter):
    title = gettext_lazy("points")
    parameter_name = "points"

    def lookups(self, request, model_admin):
        return [("some", _("Has points")), ("none", _("No points")), ("1000", _("1,000 or more"))]

    def queryset(self, request, queryset):
        if self.value() == "some":
            return queryset.filter(balance__gt=0)
        if self.value() == "none":
            return queryset.filter(balance=0)
        if self.value() == "1000":
            return queryset.filter(balance__gte=1000)
        return queryset


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=gettext_lazy("Points"),
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text=gettext_lazy("Positive adds points (usable at once); negative removes them, the oldest first."),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        # The same words as the service's, so the rule reads the same wherever it is hit.
        error_messages={"required": gettext_lazy("Say why: a note is required for every adjustment.")},
        help_text=gettext_lazy(
            "Kept on the entry with your name. The customer sees it in their points history: "
            "“Adjusted by our team: <your note>”."
        ),
    )

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a number of points other than zero."))
        return points


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    menu_order = 1  # in the menu (shop/core/admin_site.py)
    list_display = ["email", "tier", "points", "available_points", "value", "since"]
    list_filter = [("tier", TierFilter), PointsFilter, ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["user", "tier"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "=referral_code"]
    search_help_text = gettext_lazy("Search by email, name or referral code.")
    ordering = ["-balance", "user__email"]
    list_per_page = 50
    # Balance and tier are in the summary above the form (with what is usable, pending, expiring).
    fields = ["customer", "referral_code", "created_at"]
    readonly_fields = ["customer"]
    change_form_template = "admin/loyalty/account/change_form.html"
    change_list_template = "admin/loyalty/account/change_list.html"

    def get_queryset(self, request):
        return with_available(super().get_queryset(request))

    # Members join by themselves and leave with their customer account; the page is a record.
    # Points change through the adjust form, which needs the real change permission (may_adjust).
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def may_adjust(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm("loyalty.change_account")

    has_adjust_permission = may_adjust  # for the bulk action's permissions=["adjust"]

    # --- columns

    @admin.display(description=gettext_lazy("email"), ordering="user__email")
    def email(self, account):
        return account.user.email

    @admin.display(description=gettext_lazy("balance"), ordering="balance")
    def points(self, account):
        return _points(account.balance)

    @admin.display(description=gettext_lazy("usable now"), ordering="available")
    def available_points(self, account):
        return _points(account.available)

    @admin.display(description=gettext_lazy("balance worth"), ordering="balance")
    def value(self, account):
        # current() is cached: one cache read per row, no query.
        return current().points_value(account.balance).format()

    @admin.display(description=gettext_lazy("member since"), ordering="created_at")
    def since(self, account):
        return _day(account.created_at)

    @admin.display(description=gettext_lazy("customer"))
    def customer(self, account):
        url = reverse("admin:accounts_user_change", args=[account.pk])
        name = account.user.get_full_name()
        return format_html('<a href="{}">{}</a>{}', url, account.user.email, f" ({name})" if name else "")

    # --- pages

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            stats = (
                response.context_data["cl"]
                .queryset.order_by()
                .aggregate(members=Count("pk"), points=Coalesce(Sum("balance"), 0))
            )
            stats["value"] = current().points_value(stats["points"])
            response.context_data["stats"] = stats
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        account = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if account is not None:
            extra_context.update(self._member_context(request, account))
        return super().change_view(request, object_id, form_url, extra_context)

    def _member_context(self, request, account) -> dict:
        return {
            "summary": selectors.summary(user=account.user),
            "entries": selectors.ledger(account=account).select_related("actor")[:MEMBER_PAGE_ENTRIES],
            "entries_total": LedgerEntry.objects.filter(account=account).count(),
            "ledger_url": reverse("admin:loyalty_ledgerentry_changelist") + f"?member={account.pk}",
            "tier_changes": selectors.tier_changes(account=account)[:MEMBER_PAGE_ENTRIES],
            "referrals": Referral.objects.filter(advocate_id=account.pk).select_related("friend"),
            "referred_by": Referral.objects.filter(friend_id=account.pk).select_related("advocate").first(),
            "may_adjust": self.may_adjust(request),
        }

    # --- bulk

    actions = ["adjust_selected"]

    @admin.action(description=gettext_lazy("Add or remove points for the selected members…"), permissions=["adjust"])
    def adjust_selected(self, request, queryset):
        """One adjustment per member (a goodwill gesture after an incident, a correction): a form first."""
        form = AdjustForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._adjust_each(request, queryset.select_related("user"), form.cleaned_data)
            return None  # back to the list, with the messages
        return TemplateResponse(
            request,
            "admin/loyalty/account/bulk_adjust.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Add or remove points"),
                "opts": self.model._meta,
                "accounts": queryset.select_related("user"),
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
            status=400 if form.errors else 200,
        )

    def _adjust_each(self, request, accounts, data) -> None:
        done, failed = 0, []
        for account in accounts:
            try:
                services.points_adjust(user=account.user, points=data["points"], note=data["note"], actor=request.user)
                done += 1
            except ShopError as exc:  # e.g. removing more than one member holds: the others still go through
                failed.append(_("Skipped %(email)s: %(why)s") % {"email": account.user.email, "why": exc.message})
        if done:
            values = {"n": done, "points": points_text(abs(data["points"]))}
            if data["points"] > 0:
                text = ngettext("Added %(points)s to %(n)d member.", "Added %(points)s to each of %(n)d members.", done)
            else:
                text = ngettext(
                    "Removed %(points)s from %(n)d member.", "Removed %(points)s from each of %(n)d members.", done
                )
            self.message_user(request, text % values, messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("overview/", view(self.overview_view), name="loyalty_account_overview"),
            path("<int:pk>/adjust/", view(self.adjust_view), name="loyalty_account_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, pk):
        account = get_object_or_404(Account.objects.select_related("user", "tier"), pk=pk)
        if not self.may_adjust(request):
            raise PermissionDenied
        form = AdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = services.points_adjust(
                    user=account.user,
                    points=form.cleaned_data["points"],
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
            except ShopError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, self._adjusted_message(account, entry), messages.SUCCESS)
                return redirect("admin:loyalty_account_change", account.pk)
        return TemplateResponse(
            request,
            "admin/loyalty/account/adjust.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Adjust points: %(email)s") % {"email": account.user.email},
                "opts": self.model._meta,
                "original": account,
                "form": form,
                "summary": selectors.summary(user=account.user),
            },
            status=400 if form.errors else 200,
        )

    def _adjusted_message(self, account, entry) -> str:
        values = {"n": abs(entry.points), "email": account.user.email, "balance": _points(entry.balance_after)}
        if entry.points > 0:
            text = ngettext(
                "Added %(n)d point to %(email)s; balance now %(balance)s.",
                "Added %(n)d points to %(email)s; balance now %(balance)s.",
                entry.points,
            )
        else:
            text = ngettext(
                "Removed %(n)d point from %(email)s; balance now %(balance)s.",
                "Removed %(n)d points from %(email)s; balance now %(balance)s.",
                -entry.points,
            )
        return text % values

    def overview_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/loyalty/overview.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Loyalty overview"),
                "opts": self.model._meta,
                **overview(),
            },
        )


# --- Overview --------------------------------------------------------------------------------------------------

SERIES = ["earned", "redeemed", "expired", "reversed", "removed"]


def _last_months(n: int, now) -> list[dt.date]:
    """The first day of the last n months, this one included, newest first (in the store's time zone)."""
    local = timezone.localtime(now)
    year, month, out = local.year, local.month, []
    for _i in range(n):
        out.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def _months(now) -> list[dict]:
    """selectors.monthly for each of the last MONTHS months, newest first, months without entries as zeros."""
    found = {}
    for row in selectors.monthly(months=MONTHS, now=now):
        month = timezone.localtime(row["month"]) if timezone.is_aware(row["month"]) else row["month"]
        found[(month.year, month.month)] = row
    months = []
    for first in _last_months(MONTHS, now):
        row = found.get((first.year, first.month), {})
        m = {"month": first, **{name: row.get(name, 0) for name in SERIES}}
        m["net"] = m["earned"] - m["redeemed"] - m["expired"] + m["reversed"] - m["removed"]
        months.append(m)
    return months


def _add_bars(months: list[dict]) -> None:
    """Two bars a month, on one scale: what came in (earned, given back) and what went out (redeemed,
    expired, removed, taken back), as percentages of the largest month's in or out."""
    for m in months:
        m["in"] = [("earned", m["earned"]), ("reversed", max(m["reversed"], 0))]
        m["out"] = [
            ("redeemed", m["redeemed"]),
            ("expired", m["expired"]),
            ("removed", m["removed"]),
            ("reversed", max(-m["reversed"], 0)),
        ]
    largest = max([sum(n for _name, n in m[side]) for m in months for side in ("in", "out")] + [1])
    for m in months:
        for side in ("in", "out"):
            m[side] = [(name, round(n * 100 / largest, 1)) for name, n in m[side] if n]


def overview(*, now=None) -> dict:
    """The overview page's figures: liability, 12 months of points movement (with bar widths), tiers."""
    now = now or timezone.now()
    months = _months(now)
    _add_bars(months)
    tiers = selectors.members_per_tier()
    members = sum(row["members"] for row in tiers) or 1
    for row in tiers:
        row["share"] = round(row["members"] * 100 / members, 1)
    liability = selectors.liability()
    rules = current()
    return {
        "liability": liability,
        "average": liability["points"] // liability["members"] if liability["members"] else 0,
        "rules": rules,
        "rate_value": rules.points_value(rules.program.redeem_rate),
        "months": months,
        "totals": {name: sum(m[name] for m in months) for name in [*SERIES, "net"]},
        "tiers": tiers,
    }


# --- Ledger ----------------------------------------------------------------------------------------------------


class MemberFilter(admin.SimpleListFilter):
    """The ledger of one member (the member page links here). Shown only when one is chosen:
    a list of every member would be thousands of links."""

    title = gettext_lazy("member")
    parameter_name = "member"

    def _member_id(self) -> int | None:
        value = self.value() or ""
        return int(value) if value.isdigit() and len(value) <= 18 else None  # a bigint, at most

    def lookups(self, request, model_admin):
        value = self.value()
        if self._member_id() is not None:
            email = Account.objects.filter(pk=self._member_id()).values_list("user__email", flat=True).first()
            if email:
                return [(value, email)]
        return []

    def queryset(self, request, queryset):
        member = self._member_id()
        return queryset.filter(account_id=member) if member is not None else queryset


CSV_COLUMNS = ["date", "member", "kind", "reason", "points", "balance_after", "order", "reference", "description"]
CSV_COLUMNS += ["note", "by"]


def ledger_csv(entries, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    rows = entries.select_related("account__user", "order", "actor").order_by("created_at", "id")
    for e in rows.iterator(chunk_size=2000):
        writer.writerow(
            [
                timezone.localtime(e.created_at).isoformat(timespec="seconds"),
                _cell(e.account.user.email),
                e.kind,
                e.reason,
                e.points,
                e.balance_after,
                e.order.number if e.order_id else "",
                _cell(e.reference),
                _cell(e.description),
                _cell(e.note),
                _cell(e.actor.email if e.actor_id else ""),
            ]
        )
    return response


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Append-only: written by loyalty.services, never edited or deleted (corrections are new entries)."""

    menu_order = 2  # in the menu (shop/core/admin_site.py)

    list_display = [
        "date",
        "member",
        "kind",
        "reason",
        "signed_points",
        "balance",
        "order_link",
        "description",
        "by",
    ]
    list_filter = [MemberFilter, "kind", "reason", ("created_at", titled(gettext_lazy("date")))]
    list_select_related = ["account__user", "order", "actor"]
    search_fields = ["account__user__email", "=order__number", "=reference", "note"]
    search_help_text = gettext_lazy("Search by member email, order number, reference or note.")
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False  # the ledger only grows: spare a count of the whole table on filtered lists
    fields = [
        "created_at",
        "member",
        "kind",
        "reason",
        "signed_points",
        "balance_after",
        "description",
        "order_link",
        "reference_text",
        "available_at",
        "expires_at",
        "note",
        "by",
        "data",
    ]
    readonly_fields = fields
    actions = ["export_csv"]
    change_list_template = "admin/loyalty/ledgerentry/change_list.html"

    @admin.display(description=gettext_lazy("date"), ordering="created_at")
    def date(self, entry):
        return formats.date_format(timezone.localtime(entry.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("member"), ordering="account__user__email")
    def member(self, entry):
        return _member_link(entry.account_id, entry.account.user.email)

    @admin.display(description=gettext_lazy("points"), ordering="points")
    def signed_points(self, entry):
        return _signed(entry.points)

    @admin.display(description=gettext_lazy("balance after"), ordering="balance_after")
    def balance(self, entry):
        return _points(entry.balance_after)

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_link(self, entry):
        return _order_link(entry.order)

    @admin.display(description=gettext_lazy("description"))
    def description(self, entry):
        return entry.description

    @admin.display(description=gettext_lazy("reference"))
    def reference_text(self, entry):
        return ledger_reference(entry)

    @admin.display(description=gettext_lazy("by"), ordering="actor__email")
    def by(self, entry):
        return entry.actor.email if entry.actor_id else _("the store")

    @admin.action(description=gettext_lazy("Export selected entries to CSV"))
    def export_csv(self, request, queryset):
        return ledger_csv(queryset, f"points-ledger-{timezone.localtime():%Y%m%d-%H%M}.csv")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            response.context_data["stats"] = (
                response.context_data["cl"]
                .queryset.order_by()
                .aggregate(
                    added=Coalesce(Sum("points", filter=Q(points__gt=0)), 0),
                    taken=-Coalesce(Sum("points", filter=Q(points__lt=0)), 0),
                )
            )
        return response


# --- Referrals and expiry reminders ----------------------------------------------------------------------------


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    """Decided by loyalty.services when the friend's first order is paid."""

    menu_order = 3  # in the menu (shop/core/admin_site.py)

    list_display = ["advocate_link", "friend_link", "status", "why_not", "rewarded_order_link", "joined", "decided"]
    list_filter = ["status"]
    list_select_related = ["advocate", "friend", "rewarded_order"]
    search_fields = ["advocate__email", "friend__email"]
    search_help_text = gettext_lazy("Search by the advocate's or the friend's email.")
    date_hierarchy = "created_at"
    list_per_page = 100

    @admin.display(description=gettext_lazy("advocate"), ordering="advocate__email")
    def advocate_link(self, referral):
        return _member_link(referral.advocate_id, referral.advocate.email)

    @admin.display(description=gettext_lazy("friend"), ordering="friend__email")
    def friend_link(self, referral):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:accounts_user_change", args=[referral.friend_id]), referral.friend
        )

    @admin.display(description=gettext_lazy("why not rewarded"))
    def why_not(self, referral):
        return referral.get_refusal_display() or "—"

    @admin.display(description=gettext_lazy("order"))
    def rewarded_order_link(self, referral):
        return _order_link(referral.rewarded_order)

    @admin.display(description=gettext_lazy("joined"), ordering="created_at")
    def joined(self, referral):
        return _day(referral.created_at)

    @admin.display(description=gettext_lazy("decided"), ordering="decided_at")
    def decided(self, referral):
        return _day(referral.decided_at)


class SentFilter(admin.SimpleListFilter):
    title = gettext_lazy("sent")
    parameter_name = "sent"

    def lookups(self, request, model_admin):
        return [("yes", _("Sent")), ("no", _("Not sent")), ("failing", _("Not sent, with an error"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(sent_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(sent_at__isnull=True)
        if self.value() == "failing":
            return queryset.filter(sent_at__isnull=True).exclude(last_error="")
        return queryset


@admin.register(ExpiryNotice)
class ExpiryNoticeAdmin(ReadOnlyAdmin):
    """The reminder outbox: queued by services.expiry_notices_queue, sent once by a task."""

    list_display = ["member", "points_col", "first_expiry_col", "created_col", "sent_col", "attempts_col", "error_col"]
    list_filter = [SentFilter, ("first_expiry", admin.DateFieldListFilter)]
    list_select_related = ["account__user"]
    search_fields = ["account__user__email"]
    search_help_text = gettext_lazy("Search by member email.")
    ordering = ["-created_at"]
    list_per_page = 100

    @admin.display(description=gettext_lazy("member"), ordering="account__user__email")
    def member(self, notice):
        return _member_link(notice.account_id, notice.account.user.email)

    # The model's fields have no translated names: the columns give them one.
    @admin.display(description=gettext_lazy("points"), ordering="points")
    def points_col(self, notice):
        return _points(notice.points)

    @admin.display(description=gettext_lazy("first expiry"), ordering="first_expiry")
    def first_expiry_col(self, notice):
        return _day(notice.first_expiry)

    @admin.display(description=gettext_lazy("queued"), ordering="created_at")
    def created_col(self, notice):
        return formats.date_format(timezone.localtime(notice.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("sent"), ordering="sent_at")
    def sent_col(self, notice):
        if notice.sent_at is None:
            return format_html('<strong class="tone-warn">{}</strong>', _("not yet"))
        return formats.date_format(timezone.localtime(notice.sent_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("attempts"), ordering="attempts")
    def attempts_col(self, notice):
        return notice.attempts

    @admin.display(description=gettext_lazy("last error"))
    def error_col(self, notice):
        return notice.last_error or "—"
