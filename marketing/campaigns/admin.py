"""The marketer's desk: segments with their live size, campaigns with A/B variants, a preview
as any customer, a test send, sending and pausing, and each campaign's results."""

from __future__ import annotations

import datetime as dt
import re

from csp.decorators import csp_update
from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template import TemplateSyntaxError
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin

from marketing.campaigns import flows, render, rules, segments, services, stats
from marketing.campaigns.models import (
    Campaign,
    Click,
    Flow,
    FlowRun,
    FlowStep,
    Message,
    Segment,
    SegmentRule,
    Suppression,
    Variant,
)
from marketing.discounts import selectors as discount_selectors
from shop.accounts.models import Channel
from shop.core.errors import ShopError

# -- Segments


class RuleForm(forms.ModelForm):
    field = forms.ChoiceField(label=gettext_lazy("field"), choices=rules.field_choices)
    operator = forms.ChoiceField(label=gettext_lazy("operator"), choices=rules.operator_choices)

    class Meta:
        model = SegmentRule
        fields = ["field", "operator", "value", "days"]
        widgets = {
            "value": forms.TextInput(attrs={"size": 18}),
            "days": forms.NumberInput(attrs={"size": 6}),
        }

    def clean(self):
        data = super().clean()
        if data.get("field") and data.get("operator") and not self.cleaned_data.get("DELETE"):
            try:
                rules.rule_q(
                    field_key=data["field"],
                    operator=data["operator"],
                    value=data.get("value") or "",
                    days=data.get("days"),
                    ctx=rules.Context(now=timezone.now()),
                )
            except rules.RuleError as exc:
                raise forms.ValidationError(exc.messages) from None
        return data


class RuleInline(admin.TabularInline):
    model = SegmentRule
    form = RuleForm
    extra = 1
    fields = ["field", "operator", "value", "days", "position"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "match", "rule_count", "updated_at"]
    search_fields = ["name", "key", "description"]
    prepopulated_fields = {"key": ["name"]}
    readonly_fields = ["size_and_sample", "used_by"]
    inlines = [RuleInline]
    fieldsets = [
        (None, {"fields": ["name", "key", "description", "match"]}),
        (gettext_lazy("Who is in it now"), {"fields": ["size_and_sample", "used_by"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_rules=Count("rules"))

    @admin.display(description=gettext_lazy("rules"), ordering="n_rules")
    def rule_count(self, segment):
        return segment.n_rules

    @admin.display(description=gettext_lazy("members"))
    def size_and_sample(self, segment):
        if not segment.pk:
            return _("Save to see who is in it.")
        try:
            members = segments.members(segment)
            total = members.count()
            by_channel = {
                channel: members.filter(consents__channel=channel, consents__given=True).count()
                for channel in Channel.values
            }
            sample = segments.sample(segment, size=10)
        except rules.RuleError as exc:
            return format_html('<span class="tone-bad">{}</span>', "; ".join(exc.messages))
        reach = format_html_join(
            " · ", "{}: <strong>{}</strong>", ((Channel(c).label, f"{n:,}") for c, n in by_channel.items())
        )
        people = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:accounts_user_change", args=[u.pk]), u.email) for u in sample),
        )
        return format_html(
            "<p><strong>{}</strong> {}</p><p>{} {}</p><p>{} {}</p>",
            f"{total:,}",
            _("customers now"),
            _("With consent:"),
            reach,
            _("For example:"),
            people or "—",
        )

    @admin.display(description=gettext_lazy("used by"))
    def used_by(self, segment):
        campaigns = list(segment.campaigns.values_list("pk", "name")[:10])
        if not campaigns:
            return "—"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:campaigns_campaign_change", args=[pk]), n) for pk, n in campaigns),
        )


# -- Campaigns


class VariantForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = ["key", "subject", "preheader", "body_html", "body_text", "url"]
        widgets = {"body_html": forms.Textarea(attrs={"rows": 12}), "body_text": forms.Textarea(attrs={"rows": 5})}

    def clean(self):
        data = super().clean()
        for name in ("subject", "preheader", "body_html", "body_text"):
            try:
                render.check(data.get(name) or "")
            except TemplateSyntaxError as exc:
                self.add_error(name, _("This cannot be read: %(error)s") % {"error": exc})
        return data


class VariantInline(admin.StackedInline):
    model = Variant
    form = VariantForm
    extra = 0
    min_num = 1
    max_num = 2
    help_text = gettext_lazy(
        "Placeholders: {{ first_name }}, {{ code }}, {{ points }}, {{ points_value }}, {{ store }}."
    )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.status == Campaign.Status.DRAFT)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


class CampaignForm(forms.ModelForm):
    promotion_id = forms.TypedChoiceField(
        label=gettext_lazy("promotion for personal codes"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=gettext_lazy("Each recipient gets their own single-use code of it: {{ code }} in the text."),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "utm_campaign",
            "channel",
            "segment",
            "scheduled_at",
            "promotion_id",
            "attribution_days",
            "ab_test",
            "ab_share",
            "ab_wait_hours",
            "ab_metric",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "promotion_id" in self.fields:  # read-only once the campaign has started
            self.fields["promotion_id"].choices = [("", "—"), *discount_selectors.promotion_choices()]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = ["name", "channel", "segment", "status", "sent", "open_rate", "click_rate", "started_at"]
    list_filter = ["status", "channel", "ab_test", ("started_at", admin.DateFieldListFilter)]
    list_select_related = ["segment"]
    search_fields = ["name", "variants__subject"]
    autocomplete_fields = ["segment"]
    readonly_fields = ["status", "started_at", "finished_at", "results"]
    inlines = [VariantInline]
    fieldsets = [
        (None, {"fields": ["name", "utm_campaign", "channel", "segment", "status", "scheduled_at"]}),
        (gettext_lazy("Offer and attribution"), {"fields": ["promotion_id", "attribution_days"]}),
        (
            gettext_lazy("A/B test"),
            {"fields": ["ab_test", "ab_share", "ab_wait_hours", "ab_metric"], "classes": ["collapse"]},
        ),
        (gettext_lazy("Results"), {"fields": ["started_at", "finished_at", "results"]}),
    ]

    def get_queryset(self, request):
        delivered = Q(messages__status=Message.Status.SENT)
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_sent=Count("messages", filter=Q(messages__status__in=["sent", "bounced"])),
                n_delivered=Count("messages", filter=delivered),
                n_opened=Count("messages", filter=delivered & Q(messages__opened_at__isnull=False)),
                n_clicked=Count("messages", filter=delivered & Q(messages__clicked_at__isnull=False)),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return [f.name for f in Campaign._meta.fields if f.editable] + ["promotion_id", "results"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=gettext_lazy("sent"), ordering="n_sent")
    def sent(self, campaign):
        return f"{campaign.n_sent:,}"

    @admin.display(description=gettext_lazy("opened*"))
    def open_rate(self, campaign):
        return _rate(campaign.n_opened, campaign.n_delivered)

    @admin.display(description=gettext_lazy("clicked"))
    def click_rate(self, campaign):
        return _rate(campaign.n_clicked, campaign.n_delivered)

    @admin.display(description=gettext_lazy("results"))
    def results(self, campaign):
        if not campaign.pk:
            return "—"
        from django.template.loader import render_to_string

        # A template of ours, its values escaped by it: safe to show as HTML.
        return mark_safe(render_to_string("admin/campaigns/campaign/results.html", results_context(campaign)))  # noqa: S308

    # Buttons on the campaign's page (change_form.html): each saves, then acts.
    def response_change(self, request, obj):
        act = next((name for name in ("_send", "_pause", "_resume", "_cancel", "_test") if name in request.POST), None)
        if act:
            try:
                self._act(request, obj, act)
            except ShopError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            return _back(obj)
        return super().response_change(request, obj)

    def _act(self, request, campaign, act):
        if act == "_test":
            services.campaign_test_send(campaign=campaign, to=request.user)
            self.message_user(request, _("A test was sent to %(email)s.") % {"email": request.user.email})
        elif act == "_send":
            services.campaign_start(campaign=campaign, at=campaign.scheduled_at)
            campaign.refresh_from_db()
            if campaign.status == Campaign.Status.SCHEDULED:
                self.message_user(
                    request, _("Scheduled for %(at)s.") % {"at": timezone.localtime(campaign.scheduled_at)}
                )
            else:
                self.message_user(request, _("Sending has started: recipients are listed in chunks."))
        elif act == "_pause":
            services.campaign_pause(campaign=campaign)
            self.message_user(request, _("Paused: nothing more is sent until you resume."))
        elif act == "_resume":
            services.campaign_resume(campaign=campaign)
            self.message_user(request, _("Resumed."))
        elif act == "_cancel":
            left = services.campaign_cancel(campaign=campaign)
            self.message_user(request, _("Cancelled: %(n)s queued messages will not be sent.") % {"n": f"{left:,}"})

    def get_urls(self):
        return [
            path(
                "<int:pk>/preview/<str:key>/",
                self.admin_site.admin_view(self.preview_view),
                name="campaigns_campaign_preview",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "customer_id": request.GET.get("customer", "")}
        return super().change_view(request, object_id, form_url, extra)

    def preview_view(self, request, pk, key):
        """The message as one customer would see it (the customer's id in ?customer=)."""
        campaign = get_object_or_404(Campaign, pk=pk)
        if not self.has_view_permission(request, campaign):
            return HttpResponse(status=403)
        return _preview_response(campaign, key, request.GET.get("customer"), request.user)


def _back(obj):
    from django.http import HttpResponseRedirect

    return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[obj.pk]))


@xframe_options_sameorigin
@csp_update({"style-src": "'unsafe-inline'", "img-src": "*", "frame-ancestors": "'self'"})
def _preview_response(campaign, key, customer_id, staff):
    from django.contrib.auth import get_user_model

    variant = campaign.variant(key)
    if variant is None:
        return HttpResponse(_("No content %(key)s yet.") % {"key": key.upper()}, status=404)
    customer = get_user_model().objects.filter(pk=customer_id).first() if str(customer_id).isdigit() else None
    rendered = render.render(
        content=variant, user=customer or staff, channel=campaign.channel, message_id=None, code="EXAMPLE-CODE"
    )
    if campaign.channel != Channel.EMAIL:
        return HttpResponse(rendered.text, content_type="text/plain; charset=utf-8")
    return HttpResponse(rendered.html)


def _label(group: str, campaign: Campaign) -> str:
    if group == "rest":
        return _("The rest (got %(key)s)") % {"key": (campaign.ab_winner or "a").upper()}
    return group.upper() or "—"


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def results_context(campaign: Campaign) -> dict:
    figures = services.variant_figures(campaign)
    rows = []
    for key in sorted(figures):
        f = figures[key]
        delivered = f.get("delivered", 0)
        rows.append(
            {
                "variant": _label(key, campaign),
                **f,
                "open_rate": _rate(f.get("opened", 0), delivered),
                "click_rate": _rate(f.get("clicked", 0), delivered),
                "revenue": f.get("revenue") or 0,
                "orders": f.get("orders", 0),
            }
        )
    clicks = (
        Click.objects.filter(message__campaign=campaign)
        .values("message__variant", "link")
        .annotate(n=Count("message", distinct=True))
        .order_by("message__variant", "link")
    )
    links = []
    variants = {v.key: v for v in campaign.variants.all()}
    for row in clicks:
        v = variants.get(row["message__variant"])
        url = v.links[row["link"]] if v and row["link"] < len(v.links) else "?"
        links.append({"variant": (row["message__variant"] or "").upper(), "url": url, "clicks": row["n"]})
    context = {"campaign": campaign, "rows": rows, "links": links, "decision": campaign.ab_decision}
    if campaign.is_ab and not campaign.ab_decision.get("verdict"):
        audience = 0
        try:
            audience = (
                segments.members(campaign.segment)
                .filter(consents__channel=campaign.channel, consents__given=True)
                .count()
            )
        except rules.RuleError:
            pass
        per_arm = audience * campaign.ab_share // 200
        context["test_size"] = per_arm
        context["detectable"] = stats.detectable_effect(baseline_rate=0.03, per_arm=per_arm) if per_arm else None
        context["needed"] = stats.sample_size_per_arm(baseline_rate=0.03, minimum_detectable_effect=0.2)
    return context


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "channel",
        "campaign",
        "variant",
        "status",
        "skip_reason",
        "sent_at",
        "opened_at",
        "clicked_at",
    ]
    list_filter = ["status", "channel", "skip_reason", ("sent_at", admin.DateFieldListFilter)]
    list_select_related = ["user", "campaign"]
    search_fields = ["user__email", "campaign__name", "code"]
    raw_id_fields = ["user", "campaign", "step", "run"]
    list_per_page = 100
    show_full_result_count = False  # counting a million rows for the pager is not worth it

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["address", "channel", "reason", "detail", "created_at"]
    list_filter = ["channel", "reason"]
    search_fields = ["address"]
    fields = ["channel", "address", "reason", "detail"]

    def save_model(self, request, obj, form, change):
        obj.address = obj.address.strip().lower()
        super().save_model(request, obj, form, change)


# -- Flows


def _uses_code(*texts) -> bool:
    return any("code" in re.findall(r"{{\s*(\w+)", text or "") for text in texts)


class StepForm(VariantForm):
    promotion_id = forms.TypedChoiceField(
        label=gettext_lazy("promotion for personal codes"), required=False, coerce=int, empty_value=None
    )

    class Meta:
        model = FlowStep
        fields = [
            "position",
            "delay_minutes",
            "after_delivery",
            "channel",
            "subject",
            "preheader",
            "body_html",
            "body_text",
            "url",
            "promotion_id",
        ]
        widgets = VariantForm.Meta.widgets

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["promotion_id"].choices = [("", "—"), *discount_selectors.promotion_choices()]

    def clean(self):
        data = super().clean()
        texts = [data.get(n) for n in ("subject", "body_html", "body_text")]
        if _uses_code(*texts) and not data.get("promotion_id"):
            self.add_error("promotion_id", _("The text uses {{ code }}: choose the promotion the codes come from."))
        if data.get("channel") == Channel.EMAIL and not (data.get("subject") and data.get("body_html")):
            self.add_error("body_html", _("An email needs a subject and an HTML body."))
        if data.get("channel") and data.get("channel") != Channel.EMAIL and not data.get("body_text"):
            self.add_error("body_text", _("Write the text of the message."))
        return data


class StepInline(admin.StackedInline):
    model = FlowStep
    form = StepForm
    extra = 0
    ordering = ["position"]


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "trigger", "enabled", "step_count", "active_runs", "sent_30_days"]
    list_filter = ["enabled", "trigger"]
    readonly_fields = ["trigger", "figures"]
    fields = ["name", "trigger", "enabled", "days", "segment", "exit_on_order", "figures"]
    autocomplete_fields = ["segment"]
    inlines = [StepInline]
    actions = ["switch_on", "switch_off"]

    def has_add_permission(self, request):
        return False  # one flow per trigger, created with the store

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        month = timezone.now() - dt.timedelta(days=30)
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_steps=Count("steps", distinct=True),
                n_active=Count("runs", filter=Q(runs__status=FlowRun.Status.ACTIVE), distinct=True),
                n_sent=Count("steps__messages", filter=Q(steps__messages__sent_at__gte=month), distinct=True),
            )
        )

    @admin.display(description=gettext_lazy("steps"), ordering="n_steps")
    def step_count(self, flow):
        return flow.n_steps

    @admin.display(description=gettext_lazy("customers in it now"), ordering="n_active")
    def active_runs(self, flow):
        return f"{flow.n_active:,}"

    @admin.display(description=gettext_lazy("sent in 30 days"), ordering="n_sent")
    def sent_30_days(self, flow):
        return f"{flow.n_sent:,}"

    @admin.display(description=gettext_lazy("results per step"))
    def figures(self, flow):
        from django.template.loader import render_to_string

        rows = flows.flow_figures(flow)
        return mark_safe(render_to_string("admin/campaigns/flow/figures.html", {"rows": rows}))  # noqa: S308

    @admin.action(description=gettext_lazy("Switch the chosen flows on"), permissions=["change"])
    def switch_on(self, request, queryset):
        blocked = []
        for flow in queryset:
            steps = list(flow.steps.all())
            if not steps or any(_uses_code(s.subject, s.body_html, s.body_text) and not s.promotion_id for s in steps):
                blocked.append(flow.name)
                continue
            Flow.objects.filter(pk=flow.pk).update(enabled=True)
        flows.enabled_changed()
        if blocked:
            self.message_user(
                request,
                _("Not switched on (a step uses {{ code }} without a promotion, or there is no step): %(names)s.")
                % {"names": ", ".join(blocked)},
                messages.WARNING,
            )
        else:
            self.message_user(request, _("Switched on."))

    @admin.action(description=gettext_lazy("Switch the chosen flows off"), permissions=["change"])
    def switch_off(self, request, queryset):
        queryset.update(enabled=False)
        flows.enabled_changed()
        self.message_user(request, _("Switched off: their queued messages are not sent."))


@admin.register(FlowRun)
class FlowRunAdmin(admin.ModelAdmin):
    list_display = ["user", "flow", "key", "status", "next_position", "next_at", "exit_reason", "started_at"]
    list_filter = ["flow", "status", "exit_reason"]
    list_select_related = ["user", "flow"]
    search_fields = ["user__email", "key"]
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
