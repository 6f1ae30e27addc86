"""The assistant in the admin: conversations (what was understood, what was not, what was handed
over), the FAQ entries and synonyms it answers from, and the queue of support tickets staff answer."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from marketing.assistant import tickets
from marketing.assistant.models import Channel, Conversation, FaqEntry, Synonym, Ticket, Turn

SEND = "_send_answer"  # the submit button that sends the answer


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class TurnInline(admin.TabularInline):
    model = Turn
    fields = ["created_at", "role", "text", "intent", "confidence", "read", "fallback"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("read"))
    def read(self, obj):
        """What the matcher read in the message ("colour: red · max_price: 100"): why it answered so."""
        entities = obj.entities if isinstance(obj.entities, dict) else {}
        return " · ".join(f"{name}: {_plain(value)}" for name, value in entities.items()) or "-"


def _plain(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


class FallbackFilter(admin.SimpleListFilter):
    title = _("not understood")
    parameter_name = "fallbacks"

    def lookups(self, request, model_admin):
        return [("yes", _("at least once")), ("no", _("never"))]

    def queryset(self, request, queryset):
        has = Turn.objects.filter(fallback=True).values("conversation")
        if self.value() == "yes":
            return queryset.filter(pk__in=has)
        if self.value() == "no":
            return queryset.exclude(pk__in=has)
        return queryset


class IntentFilter(admin.SimpleListFilter):
    title = _("intent")
    parameter_name = "intent"

    def lookups(self, request, model_admin):
        from marketing.assistant.contract import Intent

        return [(name, name) for name in Intent.ALL]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(pk__in=Turn.objects.filter(intent=self.value()).values("conversation"))
        return queryset


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["started_at", "channel", "user", "last_message", "intents", "fallbacks", "handed_over"]
    list_filter = ["channel", "handed_over", FallbackFilter, IntentFilter, "started_at"]
    search_fields = ["turns__text", "user__email", "=public_id"]
    date_hierarchy = "started_at"
    list_select_related = ["user"]
    # The session key is a guest's credential: staff see that a conversation is a guest's, never the key.
    readonly_fields = [
        "public_id", "channel", "shopper", "external_id", "handed_over", "started_at", "updated_at", "context",
    ]  # fmt: skip
    fieldsets = [
        (
            None,
            {"fields": ["public_id", "channel", "shopper", "external_id", "handed_over", "started_at", "updated_at"]},
        ),
        (_("What the assistant remembers"), {"classes": ["collapse"], "fields": ["context"]}),
    ]
    inlines = [TurnInline]
    change_list_template = "admin/assistant/conversation/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        last = Turn.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
        understood = Turn.objects.exclude(intent="").only("conversation_id", "intent").order_by()
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_text=Subquery(last.values("text")[:1]),
                fallback_count=Subquery(
                    Turn.objects.filter(conversation=OuterRef("pk"), fallback=True)
                    .order_by()
                    .values("conversation")
                    .annotate(n=Count("id"))
                    .values("n")
                ),
            )
            .prefetch_related(Prefetch("turns", queryset=understood, to_attr="understood"))
        )

    @admin.display(description=_("shopper"))
    def shopper(self, obj):
        if obj.user_id:
            url = reverse("admin:accounts_user_change", args=[obj.user_id])
            return format_html('<a href="{}">{}</a>', url, obj.user)
        return gettext("A guest")

    @admin.display(description=_("last message"))
    def last_message(self, obj):
        return (obj.last_text or "")[:80]

    @admin.display(description=_("intents"))
    def intents(self, obj):
        return ", ".join(sorted({t.intent for t in getattr(obj, "understood", [])}))

    @admin.display(description=_("not understood"), ordering="fallback_count")
    def fallbacks(self, obj):
        return obj.fallback_count or 0

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            ids = response.context_data["cl"].queryset.order_by().values("pk")
            talks = Conversation.objects.filter(pk__in=ids).aggregate(
                n=Count("id"), handed=Count("id", filter=Q(handed_over=True))
            )
            turns = Turn.objects.filter(conversation__in=ids).aggregate(
                asked=Count("id", filter=Q(role=Turn.Role.SHOPPER)), fallbacks=Count("id", filter=Q(fallback=True))
            )
            response.context_data["stats"] = {
                "conversations": talks["n"],
                "fallback_rate": _rate(turns["fallbacks"], turns["asked"]),
                "handover_rate": _rate(talks["handed"], talks["n"]),
            }
        return response


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "position", "is_active", "link"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["question", "answer", "phrasings"]
    fields = ["question", "answer", "phrasings", "link", "is_active", "position"]


@admin.register(Synonym)
class SynonymAdmin(admin.ModelAdmin):
    list_display = ["word", "means"]
    list_editable = ["means"]
    search_fields = ["word", "means"]


class TicketStatusFilter(admin.SimpleListFilter):
    """The queue first: open tickets unless staff ask for others."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*Ticket.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            selected = self.value() == value or (self.value() is None and value == Ticket.Status.OPEN)
            yield {
                "selected": selected,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or Ticket.Status.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


class TicketForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["status", "email", "answer"]
        widgets = {"answer": forms.Textarea(attrs={"rows": 6})}

    def clean(self):
        data = super().clean()
        if SEND in self.data:
            if not (data.get("answer") or "").strip():
                self.add_error("answer", gettext("Write an answer first."))
            # The status as submitted: "closed" with "Send the answer" in one save would send to a
            # closed ticket; "open" with it reopens a closed one and answers it.
            if data.get("status", self.instance.status) == Ticket.Status.CLOSED:
                self.add_error("status", gettext("A closed ticket takes no answer: choose another status to send it."))
        return data


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketForm
    list_display = ["opened_at", "status", "question_start", "email", "answered_at"]
    list_filter = [TicketStatusFilter]
    search_fields = ["question", "answer", "email"]
    list_select_related = ["conversation"]
    readonly_fields = [
        "opened_at", "question", "conversation_link", "transcript", "answered_by", "answered_at", "deliveries",
    ]  # fmt: skip
    fields = ["opened_at", "question", "conversation_link", "transcript", "status", "email", "answer", "deliveries"]
    change_form_template = "admin/assistant/ticket/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("opened_at")  # the oldest question waits longest

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("question"))
    def question_start(self, obj):
        return obj.question[:80]

    @admin.display(description=_("conversation"))
    def conversation_link(self, obj):
        url = reverse("admin:assistant_conversation_change", args=[obj.conversation_id])
        return format_html('<a href="{}">{}</a>', url, obj.conversation)

    @admin.display(description=_("the conversation"))
    def transcript(self, obj):
        turns = obj.conversation.turns.all()
        return format_html(
            '<ol class="assistant-transcript">{}</ol>',
            format_html_join("", "<li><strong>{}</strong>: {}</li>", ((t.get_role_display(), t.text) for t in turns)),
        )

    @admin.display(description=_("answers sent"))
    def deliveries(self, obj):
        """Each answer's email and Telegram message, and whether it reached the shopper (or why not)."""
        rows = [(gettext("Email to %(to)s") % {"to": e.to}, _state(e)) for e in obj.emails.order_by("created_at")]
        rows += [(gettext("Telegram chat"), _state(t)) for t in obj.telegram_answers.order_by("created_at")]
        if not rows:
            return "-"
        return format_html('<ul class="assistant-deliveries">{}</ul>', format_html_join("", "<li>{}: {}</li>", rows))

    def save_model(self, request, obj, form, change):
        # The answer goes out only through its button, and only through the service: it is
        # recorded, added to the conversation and emailed once. A plain save keeps the rest.
        obj.save(update_fields=["status", "email"])
        if SEND in request.POST:
            try:
                tickets.ticket_answer(ticket_id=obj.pk, answer=form.cleaned_data["answer"], staff=request.user)
            except tickets.TicketError as exc:  # closed by someone else since the page was opened
                messages.error(request, gettext("The answer was not sent: %(why)s") % {"why": exc})
                return
            messages.success(request, _sent_message(obj))


def _sent_message(ticket: Ticket) -> str:
    if ticket.conversation.channel == Channel.TELEGRAM:
        if ticket.email:
            return gettext("The answer was sent to %(email)s and to the shopper's Telegram chat.") % {
                "email": ticket.email
            }
        return gettext("The answer is being sent to the shopper's Telegram chat.")
    if ticket.email:
        return gettext("The answer was sent to %(email)s and added to the chat.") % {"email": ticket.email}
    return gettext("The answer was added to the chat (the shopper left no email).")


def _state(row) -> str:
    """An email's or a Telegram message's delivery, in words."""
    if row.sent_at:
        return gettext("sent %(when)s") % {"when": date_format(localtime(row.sent_at), "DATETIME_FORMAT")}
    if getattr(row, "failed_at", None):
        return gettext("refused for good: %(error)s") % {"error": row.last_error}
    if row.last_error:
        return gettext("not sent yet (%(attempts)s attempts): %(error)s") % {
            "attempts": row.attempts,
            "error": row.last_error,
        }
    return gettext("waiting to be sent")
