"""The ad board in the admin: the moderators' queue (new, flagged and reported ads), decisions in bulk or
one at a time, bans, hidden ratings and messages, reports, the category tree and the email outbox.

Every decision goes through marketing.adboard.services (a conditional update on the ad's status, the
notice to the seller), so two moderators never both decide one ad and nothing here writes a status.
The decisions need the `adboard.moderate_ad` permission; seeing the pages needs the usual view ones.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from marketing.adboard import search, services
from marketing.adboard.models import (
    Ad,
    AdCategory,
    AdField,
    AdPhoto,
    Member,
    Message,
    Notice,
    PriceKind,
    Rating,
    Report,
)
from shop.accounts.models import User
from shop.core.admin import ReadOnlyAdmin
from shop.core.money import Money

MODERATE = "adboard.moderate_ad"
REASON_MAX = 1000
LISTED = 30  # ads or members named on a confirmation page; the rest are counted
TONES = {
    Ad.Status.PENDING: "warn",
    Ad.Status.PUBLISHED: "good",
    Ad.Status.REJECTED: "bad",
    Ad.Status.HIDDEN: "bad",
    Ad.Status.SOLD: "done",
    Ad.Status.EXPIRED: "quiet",
    Ad.Status.DELETED: "quiet",
}


def may_moderate(request) -> bool:
    return request.user.is_active and request.user.is_staff and request.user.has_perm(MODERATE)


def _day(value) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATE_FORMAT") if value else "—"


def _user_link(user_id: int, email: str):
    return format_html('<a href="{}">{}</a>', reverse("admin:adboard_member_change", args=[user_id]), email)


def flag_labels(flags) -> list[str]:
    return [_(services.FLAG_LABELS.get(flag, flag)) for flag in flags or []]


def price_text(ad: Ad) -> str:
    if ad.price_kind == PriceKind.FREE:
        return _("Free")
    if ad.price is None:
        return _("Negotiable")
    amount = Money(ad.price, ad.currency).format()
    return _("%(amount)s, negotiable") % {"amount": amount} if ad.price_kind == PriceKind.NEGOTIABLE else amount


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        error_messages={"required": gettext_lazy("Give a reason: the member reads it.")},
    )

    def __init__(self, *args, help_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = help_text

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason: the member reads it."))
        return reason


class ModeratorActions:
    """What every board admin shares: the `moderate` permission for actions, and the page that asks for a
    reason before a decision (like Django's delete confirmation)."""

    def has_moderate_permission(self, request, obj=None):
        return may_moderate(request)

    def reason_page(self, request, *, form, title, intro, items, action, submit, cancel_url, single=False):
        return TemplateResponse(
            request,
            "admin/adboard/reason.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "intro": intro,
                "items": items[:LISTED],
                "more": max(len(items) - LISTED, 0),
                "selected": [] if single else [str(pk) for pk in request.POST.getlist(ACTION_CHECKBOX_NAME)],
                "action": action,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "form": form,
                "submit": submit,
                "cancel_url": cancel_url,
                "single": single,
            },
            status=400 if form.errors else 200,
        )

    def ban_users(self, request, users, reason: str) -> None:
        banned = sum(services.member_ban(user, reason=reason) for user in users)
        already = len(users) - banned
        if banned:
            text = ngettext(
                "%(n)d member banned from posting; their waiting ads were rejected.",
                "%(n)d members banned from posting; their waiting ads were rejected.",
                banned,
            )
            self.message_user(request, text % {"n": banned}, messages.SUCCESS)
        if already:
            text = ngettext("%(n)d was banned already.", "%(n)d were banned already.", already)
            self.message_user(request, text % {"n": already}, messages.WARNING)


# --- Ads ---------------------------------------------------------------------------------------------------------


class DecisionFilter(admin.SimpleListFilter):
    title = gettext_lazy("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("decide", _("Needs a decision")),
            ("pending", _("New, waiting for review")),
            ("hidden", _("Hidden after reports")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "decide":
            return queryset.filter(status__in=[Ad.Status.PENDING, Ad.Status.HIDDEN])
        if self.value() in ("pending", "hidden"):
            return queryset.filter(status=self.value())
        return queryset


class YesNoFilter(admin.SimpleListFilter):
    yes: Q

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.yes)
        if self.value() == "no":
            return queryset.exclude(self.yes)
        return queryset


class FlaggedFilter(YesNoFilter):
    title = gettext_lazy("automatic flags")
    parameter_name = "flagged"
    yes = ~Q(flags=[])


class ReportedFilter(YesNoFilter):
    title = gettext_lazy("reported")
    parameter_name = "reported"
    yes = Q(report_count__gt=0)


class PhotosFilter(YesNoFilter):
    title = gettext_lazy("has photos")
    parameter_name = "photos"
    yes = Q(photo_count__gt=0)


class LeafCategoryFilter(admin.RelatedFieldListFilter):
    def field_choices(self, field, request, model_admin):
        return [(c.pk, str(c)) for c in AdCategory.objects.select_related("parent").order_by("parent__name", "name")]


class ReportInline(admin.TabularInline):
    model = Report
    fk_name = "ad"
    fields = ["created_at", "reporter_email", "reason", "comment", "resolved_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Reports")

    def get_queryset(self, request):
        # The row shows the report as text, which names the ad: read it in the same query.
        return super().get_queryset(request).select_related("reporter", "ad").order_by("-created_at")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("reported by"))
    def reporter_email(self, report):
        return report.reporter.email


class AdForm(forms.ModelForm):
    """What staff may correct in an ad's text (a phone number in the title, a typo); the details are checked
    against the category as the seller's own edit would be. Status and counters are not here."""

    class Meta:
        model = Ad
        fields = ["title", "description", "category", "price_kind", "price", "condition", "city", "region", "details"]

    def clean(self):
        data = super().clean()
        category = data.get("category")
        if category is not None:
            if AdCategory.objects.filter(parent=category).exists():
                self.add_error("category", _("Choose the most precise category (e.g. Vehicles › Cars)."))
            else:
                try:
                    data["details"] = services.details_clean(category, data.get("details") or {})
                except ValidationError as error:
                    self.add_error("details", [f"{k}: {m}" for k, ms in error.message_dict.items() for m in ms])
        kind, price = data.get("price_kind"), data.get("price")
        if kind == PriceKind.FREE:
            data["price"] = None
        elif kind == PriceKind.FIXED and price is None:
            self.add_error("price", _("Give a price, or choose “Free” or “Negotiable”."))
        return data


@admin.register(Ad)
class AdAdmin(ModeratorActions, admin.ModelAdmin):
    menu_order = 1  # in the menu (shop/core/admin_site.py)
    form = AdForm
    list_display = [
        "thumbnail",
        "title",
        "seller",
        "category",
        "price_column",
        "status_column",
        "flag_column",
        "report_count",
        "dates",
    ]
    list_display_links = ["thumbnail", "title"]
    list_filter = [
        DecisionFilter,
        "status",
        FlaggedFilter,
        ReportedFilter,
        ("category", LeafCategoryFilter),
        PhotosFilter,
    ]
    search_fields = ["title", "description", "owner__email"]
    search_help_text = gettext_lazy("Search the title, the description or the seller's email.")
    list_select_related = ["owner", "owner__board", "category", "category__parent"]
    list_per_page = 50
    inlines = [ReportInline]
    actions = ["approve_selected", "reject_selected", "ban_sellers"]
    change_form_template = "admin/adboard/ad/change_form.html"
    editable = AdForm.Meta.fields
    fieldsets = [
        (None, {"fields": ["photos", "seller_line", "decision"]}),
        (gettext_lazy("The ad"), {"fields": AdForm.Meta.fields}),
        (
            gettext_lazy("History"),
            {"fields": [("created_at", "updated_at"), ("published_at", "expires_at"), "reminded_at"]},
        ),
    ]
    readonly_fields = [
        "photos",
        "seller_line",
        "decision",
        "created_at",
        "updated_at",
        "published_at",
        "expires_at",
        "reminded_at",
    ]

    def get_queryset(self, request):
        cover = AdPhoto.objects.filter(ad=OuterRef("pk")).order_by("position", "id").values("thumbnail")[:1]
        return (
            super()
            .get_queryset(request)
            .select_related("owner", "owner__board", "category", "category__parent")
            .annotate(cover_name=Subquery(cover))
        )

    # Ads are posted by members (with their photos, through the service) and leave the board by a
    # decision, never by a deleted row.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- columns

    @admin.display(description=gettext_lazy("photo"))
    def thumbnail(self, ad):
        if not ad.cover_name:
            return "—"
        url = AdPhoto._meta.get_field("thumbnail").storage.url(ad.cover_name)
        return format_html('<img src="{}" alt="" width="48" height="48" class="admin-thumb rounded">', url)

    @admin.display(description=gettext_lazy("seller"), ordering="owner__email")
    def seller(self, ad):
        board = getattr(ad.owner, "board", None)
        banned = format_html(' <strong class="tone-bad">{}</strong>', _("banned")) if board and board.is_banned else ""
        return format_html("{}{}", _user_link(ad.owner_id, ad.owner.email), banned)

    @admin.display(description=gettext_lazy("price"), ordering="price")
    def price_column(self, ad):
        return price_text(ad)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_column(self, ad):
        return format_html(
            '<strong class="tone-{}">{}</strong>', TONES.get(ad.status, "quiet"), ad.get_status_display()
        )

    @admin.display(description=gettext_lazy("flags"))
    def flag_column(self, ad):
        labels = flag_labels(ad.flags)
        if not labels:
            return "—"
        return format_html_join(mark_safe("<br>"), '<span class="tone-warn">{}</span>', ((label,) for label in labels))

    @admin.display(description=gettext_lazy("published → expires"), ordering="published_at")
    def dates(self, ad):
        return f"{_day(ad.published_at)} → {_day(ad.expires_at)}"

    # --- the change page

    @admin.display(description=gettext_lazy("photos"))
    def photos(self, ad):
        shown = list(ad.photos.order_by("position", "id"))
        if not shown:
            return _("No photo.")
        return format_html_join(
            " ",
            '<a href="{}"><img src="{}" alt="{}" width="120" height="120" class="admin-thumb rounded"></a>',
            ((p.image.url, p.thumbnail.url, _("Photo %(n)d") % {"n": i}) for i, p in enumerate(shown, start=1)),
        )

    @admin.display(description=gettext_lazy("seller"))
    def seller_line(self, ad):
        board = getattr(ad.owner, "board", None)
        parts = [_user_link(ad.owner_id, ad.owner.email)]
        if board is not None and board.rating_count:
            parts.append(
                ngettext("rated %(score)s from %(n)d rating", "rated %(score)s from %(n)d ratings", board.rating_count)
                % {"score": f"{board.rating_score:.2f}", "n": board.rating_count}
            )
        if board is not None and board.is_banned:
            parts.append(format_html('<strong class="tone-bad">{}</strong>', _("banned: %s") % board.ban_reason))
        return format_html_join(" · ", "{}", ((p,) for p in parts))

    @admin.display(description=gettext_lazy("status"))
    def decision(self, ad):
        lines = [format_html('<strong class="tone-{}">{}</strong>', TONES.get(ad.status), ad.get_status_display())]
        if ad.rejection_reason:
            lines.append(format_html("{}: {}", _("Reason given to the seller"), ad.rejection_reason))
        if ad.flags:
            lines.append(format_html("{}: {}", _("Automatic flags"), "; ".join(flag_labels(ad.flags))))
        if ad.report_count:
            text = ngettext("%(n)d report (below).", "%(n)d reports (below).", ad.report_count)
            lines.append(text % {"n": ad.report_count})
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "category":
            # Only the most precise categories, the ones an ad can be posted in.
            parents = AdCategory.objects.filter(parent__isnull=False).values("parent_id")
            kwargs["queryset"] = (
                AdCategory.objects.select_related("parent").exclude(pk__in=parents).order_by("parent__name", "name")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        """A correction of the text: the search columns and the duplicate check's fingerprint follow; only the
        edited columns are written, so a decision taken meanwhile is not overwritten."""
        obj.search_title, obj.search_body = search.index_texts(obj)
        obj.fingerprint = services.fingerprint(obj.title, obj.description)
        obj.updated_at = timezone.now()
        obj.save(update_fields=[*self.editable, "search_title", "search_body", "fingerprint", "updated_at"])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_moderate": may_moderate(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- decisions in bulk

    def _decided(self, request, done: int, total: int, text_done) -> None:
        if done:
            self.message_user(request, text_done % {"n": done}, messages.SUCCESS)
        if total - done:
            text = ngettext(
                "%(n)d was not waiting for a decision (someone else decided first, or it was not in the queue).",
                "%(n)d were not waiting for a decision (someone else decided first, or they were not in the queue).",
                total - done,
            )
            self.message_user(request, text % {"n": total - done}, messages.WARNING)

    @admin.action(description=gettext_lazy("Approve the selected ads"), permissions=["moderate"])
    def approve_selected(self, request, queryset):
        ads = list(queryset.select_related(None).only("pk", "owner_id", "status"))
        done = sum(services.ad_approve(ad, moderator=request.user) for ad in ads)
        self._decided(request, done, len(ads), ngettext("%(n)d ad published.", "%(n)d ads published.", done))

    @admin.action(description=gettext_lazy("Reject with a reason…"), permissions=["moderate"])
    def reject_selected(self, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None, help_text=REJECT_HELP)
        ads = list(queryset.select_related("owner"))
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            done = sum(services.ad_reject(ad, reason=reason, moderator=request.user) for ad in ads)
            text = ngettext(
                "%(n)d ad rejected; its seller was told why.", "%(n)d ads rejected; their sellers were told why.", done
            )
            self._decided(request, done, len(ads), text)
            return None
        return self.reason_page(
            request,
            form=form,
            title=_("Reject ads"),
            intro=ngettext(
                "This ad leaves the board; its seller is emailed the reason and can fix the ad.",
                "These %(n)d ads leave the board; each seller is emailed the reason and can fix their ad.",
                len(ads),
            )
            % {"n": len(ads)},
            items=[f"{ad.title} ({ad.owner.email}, {ad.get_status_display()})" for ad in ads],
            action="reject_selected",
            submit=_("Reject"),
            cancel_url=reverse("admin:adboard_ad_changelist"),
        )

    @admin.action(description=gettext_lazy("Ban the sellers…"), permissions=["moderate"])
    def ban_sellers(self, request, queryset):
        users = list(User.objects.filter(pk__in=queryset.values("owner_id")).order_by("email"))
        form = ReasonForm(request.POST if "apply" in request.POST else None, help_text=BAN_HELP)
        if form.is_valid():
            self.ban_users(request, users, form.cleaned_data["reason"][:200])
            return None
        return self.reason_page(
            request,
            form=form,
            title=_("Ban sellers"),
            intro=ngettext(
                "This member can no longer post, write or rate on the board; their waiting ads are rejected.",
                "These %(n)d members can no longer post, write or rate on the board; their waiting ads are rejected.",
                len(users),
            )
            % {"n": len(users)},
            items=[user.email for user in users],
            action="ban_sellers",
            submit=_("Ban"),
            cancel_url=reverse("admin:adboard_ad_changelist"),
        )

    # --- decisions one at a time (the change page's buttons)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/approve/", view(self.approve_view), name="adboard_ad_approve"),
            path("<int:pk>/reject/", view(self.reject_view), name="adboard_ad_reject"),
            path("<int:pk>/ban/", view(self.ban_view), name="adboard_ad_ban"),
            *super().get_urls(),
        ]

    def _ad_for_decision(self, request, pk) -> Ad:
        if not may_moderate(request):
            raise PermissionDenied
        return get_object_or_404(Ad.objects.select_related("owner"), pk=pk)

    def approve_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ad = self._ad_for_decision(request, pk)
        if services.ad_approve(ad, moderator=request.user):
            self.message_user(request, _("“%(title)s” is published.") % {"title": ad.title}, messages.SUCCESS)
        else:
            self.message_user(request, _("This ad was not waiting for a decision."), messages.WARNING)
        return redirect(self._next(request))

    def reject_view(self, request, pk):
        ad = self._ad_for_decision(request, pk)
        form = ReasonForm(request.POST or None, help_text=REJECT_HELP)
        if request.method == "POST" and form.is_valid():
            if services.ad_reject(ad, reason=form.cleaned_data["reason"], moderator=request.user):
                self.message_user(request, _("“%(title)s” is rejected; its seller was told why.") % {"title": ad.title})
            else:
                self.message_user(request, _("This ad was not waiting for a decision."), messages.WARNING)
            return redirect(self._next(request))
        return self.reason_page(
            request,
            form=form,
            title=_("Reject “%(title)s”") % {"title": ad.title},
            intro=_("The ad leaves the board; its seller is emailed the reason and can fix the ad."),
            items=[f"{ad.title} ({ad.owner.email}, {ad.get_status_display()})"],
            action="",
            submit=_("Reject"),
            cancel_url=reverse("admin:adboard_ad_change", args=[ad.pk]),
            single=True,
        )

    def ban_view(self, request, pk):
        ad = self._ad_for_decision(request, pk)
        form = ReasonForm(request.POST or None, help_text=BAN_HELP)
        if request.method == "POST" and form.is_valid():
            self.ban_users(request, [ad.owner], form.cleaned_data["reason"][:200])
            return redirect("admin:adboard_ad_change", ad.pk)
        return self.reason_page(
            request,
            form=form,
            title=_("Ban %(email)s") % {"email": ad.owner.email},
            intro=_("The member can no longer post, write or rate on the board; their waiting ads are rejected."),
            items=[ad.owner.email],
            action="",
            submit=_("Ban"),
            cancel_url=reverse("admin:adboard_ad_change", args=[ad.pk]),
            single=True,
        )

    def _next(self, request) -> str:
        """Back to the queue after a decision on the change page, so the next ad is one click away."""
        return reverse("admin:adboard_ad_changelist") + "?queue=decide"


REJECT_HELP = gettext_lazy(
    "The seller reads this in the email and on their ad: say what to change, e.g. “Remove the phone number "
    "from the title: buyers write to you through the board.”"
)
BAN_HELP = gettext_lazy("Kept on the member's record for other moderators (200 characters at most).")


# --- Categories and their details ---------------------------------------------------------------------------------


class AdFieldForm(forms.ModelForm):
    class Meta:
        model = AdField
        fields = [
            "key",
            "label",
            "kind",
            "unit",
            "choices",
            "min_value",
            "max_value",
            "required",
            "filterable",
            "position",
        ]

    def clean(self):
        data = super().clean()
        kind, choices = data.get("kind"), data.get("choices")
        if kind == AdField.Kind.CHOICE:
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(c, str) and c.strip() for c in choices)
            ):
                self.add_error("choices", _('A choice needs a list of words, e.g. ["petrol", "diesel"].'))
            elif len(set(choices)) != len(choices):
                self.add_error("choices", _("Each choice once."))
        elif choices not in (None, [], ""):
            self.add_error("choices", _("Only a choice has choices: leave it as []."))
        else:
            data["choices"] = []
        low, high = data.get("min_value"), data.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", _("The highest number is below the lowest."))
        return data


class AdFieldInline(admin.TabularInline):
    model = AdField
    form = AdFieldForm
    extra = 0
    verbose_name_plural = gettext_lazy("Details asked of ads in this category (a sub-category asks its parent's too)")


@admin.register(AdCategory)
class AdCategoryAdmin(admin.ModelAdmin):
    menu_order = 2
    list_display = ["tree_name", "slug", "position", "is_active", "ads", "details"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["parent", "name", "slug", "position", "is_active"]
    inlines = [AdFieldInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("parent")
            .annotate(n_ads=Count("ads", distinct=True), n_fields=Count("fields", distinct=True))
        )

    def get_ordering(self, request):
        """The tree as staff read it: each top-level category, then its children."""
        return [
            Coalesce("parent__position", "position"),
            Coalesce("parent_id", "id"),
            F("parent_id").asc(nulls_first=True),
            "position",
            "name",
        ]

    @admin.display(description=gettext_lazy("category"), ordering="name")
    def tree_name(self, category):
        return format_html("{}{}", "— " if category.parent_id else "", category.name)

    @admin.display(description=gettext_lazy("ads"), ordering="n_ads")
    def ads(self, category):
        url = reverse("admin:adboard_ad_changelist") + f"?category__id__exact={category.pk}"
        return format_html('<a href="{}">{}</a>', url, category.n_ads)

    @admin.display(description=gettext_lazy("details"), ordering="n_fields")
    def details(self, category):
        return category.n_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            # Two levels: a parent is a top-level category.
            kwargs["queryset"] = AdCategory.objects.filter(parent__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Members --------------------------------------------------------------------------------------------------------


class BannedFilter(YesNoFilter):
    title = gettext_lazy("banned")
    parameter_name = "banned"
    yes = Q(banned_at__isnull=False)


@admin.register(Member)
class MemberAdmin(ModeratorActions, admin.ModelAdmin):
    menu_order = 3
    list_display = ["email", "banned", "ban_reason", "rating_count", "score", "active_ads"]
    list_filter = [BannedFilter]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__first_name", "user__last_name"]
    search_help_text = gettext_lazy("Search by email or name.")
    fields = ["user_line", "banned_at", "ban_reason", "rating_count", "rating_sum", "rating_score", "ads_line"]
    readonly_fields = fields
    actions = ["ban_selected", "unban_selected"]
    ordering = ["-rating_count", "user__email"]

    def get_queryset(self, request):
        active = Count("user__ads", filter=Q(user__ads__status__in=Ad.ACTIVE))
        return super().get_queryset(request).select_related("user").annotate(n_active=active)

    # A member's row is made by their first post; a ban or a rating changes it through the services.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("email"), ordering="user__email")
    def email(self, member):
        return member.user.email

    @admin.display(description=gettext_lazy("banned"), boolean=True, ordering="banned_at")
    def banned(self, member):
        return member.is_banned

    @admin.display(description=gettext_lazy("rating"), ordering="rating_score")
    def score(self, member):
        return f"{member.rating_score:.2f}" if member.rating_score is not None and member.rating_count else "—"

    @admin.display(description=gettext_lazy("active ads"), ordering="n_active")
    def active_ads(self, member):
        url = reverse("admin:adboard_ad_changelist") + f"?owner__id__exact={member.pk}"
        return format_html('<a href="{}">{}</a>', url, member.n_active)

    @admin.display(description=gettext_lazy("member"))
    def user_line(self, member):
        return member.user.email

    @admin.display(description=gettext_lazy("ads"))
    def ads_line(self, member):
        url = reverse("admin:adboard_ad_changelist") + f"?owner__id__exact={member.pk}"
        ratings = reverse("admin:adboard_rating_changelist") + f"?seller__id__exact={member.pk}"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>', url, _("Their ads"), ratings, _("Ratings they received")
        )

    @admin.action(description=gettext_lazy("Ban the selected members…"), permissions=["moderate"])
    def ban_selected(self, request, queryset):
        users = [m.user for m in queryset.select_related("user").order_by("user__email")]
        form = ReasonForm(request.POST if "apply" in request.POST else None, help_text=BAN_HELP)
        if form.is_valid():
            self.ban_users(request, users, form.cleaned_data["reason"][:200])
            return None
        return self.reason_page(
            request,
            form=form,
            title=_("Ban members"),
            intro=_("They can no longer post, write or rate on the board; their waiting ads are rejected."),
            items=[user.email for user in users],
            action="ban_selected",
            submit=_("Ban"),
            cancel_url=reverse("admin:adboard_member_changelist"),
        )

    @admin.action(description=gettext_lazy("Lift the ban of the selected members"), permissions=["moderate"])
    def unban_selected(self, request, queryset):
        done = sum(services.member_unban(m.user) for m in queryset.select_related("user"))
        self.message_user(
            request, ngettext("%(n)d member may post again.", "%(n)d members may post again.", done) % {"n": done}
        )


# --- Ratings and messages --------------------------------------------------------------------------------------------


class HiddenFilter(admin.SimpleListFilter):
    title = gettext_lazy("hidden or reported")
    parameter_name = "shown"

    def lookups(self, request, model_admin):
        return [("hidden", _("Hidden")), ("reported", _("Reported, still shown")), ("shown", _("Shown"))]

    def queryset(self, request, queryset):
        if self.value() == "hidden":
            return queryset.filter(hidden=True)
        if self.value() == "reported":
            return queryset.filter(hidden=False, report_count__gt=0)
        if self.value() == "shown":
            return queryset.filter(hidden=False)
        return queryset


@admin.register(Rating)
class RatingAdmin(ModeratorActions, ReadOnlyAdmin):
    menu_order = 4
    list_display = [
        "created_at",
        "seller_email",
        "rater_email",
        "stars",
        "comment_start",
        "replied",
        "report_count",
        "hidden",
    ]
    list_filter = [HiddenFilter, "stars"]
    list_select_related = ["seller", "rater"]
    search_fields = ["seller__email", "rater__email", "comment"]
    fields = [
        "seller",
        "rater",
        "ad",
        "stars",
        "comment",
        "reply",
        "replied_at",
        "created_at",
        "report_count",
        "hidden",
    ]
    actions = ["hide_selected", "show_selected"]

    @admin.display(description=gettext_lazy("seller"), ordering="seller__email")
    def seller_email(self, rating):
        return rating.seller.email

    @admin.display(description=gettext_lazy("by"), ordering="rater__email")
    def rater_email(self, rating):
        return rating.rater.email

    @admin.display(description=gettext_lazy("comment"))
    def comment_start(self, rating):
        return Truncator(rating.comment).chars(80) or "—"

    @admin.display(description=gettext_lazy("seller replied"), boolean=True)
    def replied(self, rating):
        return rating.replied_at is not None

    def _hide(self, request, queryset, hidden: bool):
        done = sum(
            services.rating_hide(r, hidden=hidden)
            for r in queryset.select_related(None).only("pk", "seller_id", "stars")
        )
        text = (
            ngettext(
                "%(n)d rating hidden; the seller's score no longer counts it.",
                "%(n)d ratings hidden; the sellers' scores no longer count them.",
                done,
            )
            if hidden
            else ngettext("%(n)d rating shown again and counted.", "%(n)d ratings shown again and counted.", done)
        )
        self.message_user(request, text % {"n": done})

    @admin.action(description=gettext_lazy("Hide the selected ratings"), permissions=["moderate"])
    def hide_selected(self, request, queryset):
        self._hide(request, queryset, True)

    @admin.action(description=gettext_lazy("Show the selected ratings again"), permissions=["moderate"])
    def show_selected(self, request, queryset):
        self._hide(request, queryset, False)


@admin.register(Message)
class MessageAdmin(ModeratorActions, ReadOnlyAdmin):
    """Members' private conversations: only moderators read them, and only to decide on a report."""

    menu_order = 5
    list_display = ["created_at", "about", "sender_email", "body_start", "report_count", "hidden"]
    list_filter = [HiddenFilter]
    list_select_related = ["sender", "conversation__ad"]
    search_fields = ["body", "sender__email"]
    fields = ["conversation", "sender", "body", "created_at", "report_count", "hidden"]
    actions = ["hide_selected", "show_selected"]

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and may_moderate(request)

    def has_module_permission(self, request):
        return super().has_module_permission(request) and may_moderate(request)

    @admin.display(description=gettext_lazy("about"))
    def about(self, message):
        ad = message.conversation.ad
        return format_html('<a href="{}">{}</a>', reverse("admin:adboard_ad_change", args=[ad.pk]), ad.title)

    @admin.display(description=gettext_lazy("from"), ordering="sender__email")
    def sender_email(self, message):
        return message.sender.email

    @admin.display(description=gettext_lazy("message"))
    def body_start(self, message):
        return Truncator(message.body).chars(100)

    def _hide(self, request, queryset, hidden: bool):
        done = sum(services.message_hide(m, hidden=hidden) for m in queryset.select_related(None).only("pk"))
        text = (
            ngettext("%(n)d message hidden.", "%(n)d messages hidden.", done)
            if hidden
            else ngettext("%(n)d message shown again.", "%(n)d messages shown again.", done)
        )
        self.message_user(request, text % {"n": done})

    @admin.action(description=gettext_lazy("Hide the selected messages"), permissions=["moderate"])
    def hide_selected(self, request, queryset):
        self._hide(request, queryset, True)

    @admin.action(description=gettext_lazy("Show the selected messages again"), permissions=["moderate"])
    def show_selected(self, request, queryset):
        self._hide(request, queryset, False)


# --- Reports --------------------------------------------------------------------------------------------------------


class OpenFilter(admin.SimpleListFilter):
    title = gettext_lazy("decided")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("open", _("Waiting")), ("decided", _("Decided"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "decided":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class ThingFilter(admin.SimpleListFilter):
    title = gettext_lazy("of")
    parameter_name = "of"

    def lookups(self, request, model_admin):
        return [("ad", _("Ads")), ("message", _("Messages")), ("rating", _("Ratings"))]

    def queryset(self, request, queryset):
        if self.value() in ("ad", "message", "rating"):
            return queryset.filter(**{f"{self.value()}__isnull": False})
        return queryset


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    menu_order = 6
    list_display = ["created_at", "reporter_email", "reason", "thing", "comment", "state"]
    list_filter = [OpenFilter, "reason", ThingFilter]
    list_select_related = ["reporter", "ad", "message", "rating"]
    search_fields = ["reporter__email", "comment", "ad__title"]
    fields = ["reporter", "reason", "comment", "thing", "created_at", "resolved_at"]
    readonly_fields = ["thing"]

    @admin.display(description=gettext_lazy("reported by"), ordering="reporter__email")
    def reporter_email(self, report):
        return report.reporter.email

    @admin.display(description=gettext_lazy("what"))
    def thing(self, report):
        if report.ad_id:
            url, label = reverse("admin:adboard_ad_change", args=[report.ad_id]), _("Ad: %s") % report.ad.title
        elif report.message_id:
            url = reverse("admin:adboard_message_change", args=[report.message_id])
            label = _("Message: %s") % Truncator(report.message.body).chars(60)
        else:
            url = reverse("admin:adboard_rating_change", args=[report.rating_id])
            label = _("Rating: %(stars)d★ %(comment)s") % {
                "stars": report.rating.stars,
                "comment": Truncator(report.rating.comment).chars(50),
            }
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description=gettext_lazy("decided"), ordering="resolved_at")
    def state(self, report):
        if report.resolved_at is None:
            return format_html('<strong class="tone-warn">{}</strong>', _("waiting"))
        return _day(report.resolved_at)


# --- The outbox -------------------------------------------------------------------------------------------------------


class SentFilter(admin.SimpleListFilter):
    title = gettext_lazy("sent")
    parameter_name = "sent"

    def lookups(self, request, model_admin):
        return [("sent", _("Sent")), ("unsent", _("Not sent yet")), ("failed", _("Failed (retrying or given up)"))]

    def queryset(self, request, queryset):
        if self.value() == "sent":
            return queryset.filter(sent_at__isnull=False)
        if self.value() == "unsent":
            return queryset.filter(sent_at__isnull=True)
        if self.value() == "failed":
            return queryset.filter(sent_at__isnull=True, attempts__gt=0)
        return queryset


@admin.register(Notice)
class NoticeAdmin(ModeratorActions, ReadOnlyAdmin):
    menu_order = 7
    list_display = ["created_at", "kind", "user_email", "state", "attempts", "last_error"]
    list_filter = [SentFilter, "kind"]
    list_select_related = ["user"]
    search_fields = ["user__email", "key"]
    fields = ["kind", "user", "key", "data", "created_at", "sent_at", "attempts", "last_error", "claimed_until"]
    actions = ["send_again"]

    @admin.display(description=gettext_lazy("to"), ordering="user__email")
    def user_email(self, notice):
        return notice.user.email

    @admin.display(description=gettext_lazy("state"), ordering="sent_at")
    def state(self, notice):
        if notice.sent_at:
            return format_html('<span class="tone-good">{}</span>', _("sent %s") % _day(notice.sent_at))
        if notice.attempts:
            return format_html('<strong class="tone-bad">{}</strong>', _("failed"))
        return format_html('<span class="tone-warn">{}</span>', _("waiting"))

    def has_send_permission(self, request, obj=None):
        return request.user.has_perm("adboard.view_notice") and may_moderate(request)

    @admin.action(description=gettext_lazy("Send the selected failed emails again"), permissions=["send"])
    def send_again(self, request, queryset):
        from marketing.adboard import tasks

        ids = list(queryset.filter(sent_at__isnull=True, attempts__gt=0).values_list("pk", flat=True))
        for pk in ids:
            try:
                tasks.send_notice.delay(notice_id=pk)
            except Exception:  # the broker is down: the sweep picks them up
                self.message_user(
                    request, _("The queue is not answering; the scheduled sweep will send them."), messages.WARNING
                )
                return
        self.message_user(
            request,
            ngettext("%(n)d email queued again.", "%(n)d emails queued again.", len(ids)) % {"n": len(ids)},
        )
