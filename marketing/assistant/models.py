"""Conversations with the shopping assistant, the FAQ it answers from, and hand-overs to staff."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    WEB = "web", _("storefront chat")
    API = "api", _("API")
    TELEGRAM = "telegram", _("Telegram")


class Conversation(models.Model):
    """One shopper's chat. It belongs to a customer, or to the browser session that started it
    (or to a messaging app's chat): nobody else reads or continues it."""

    public_id = models.UUIDField(_("conversation"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.WEB)
    # A messaging app's chat id (Telegram's chat.id): the conversation it continues.
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    # What the dialogue keeps between turns: the products last shown, the product "it" is, a
    # confirmation waiting for a yes, the search being refined (dialogue.py owns its shape).
    context = models.JSONField(default=dict, blank=True)
    handed_over = models.BooleanField(_("handed over"), default=False)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last message"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="one_conversation_per_messaging_chat",
            )
        ]

    def __str__(self):
        return str(self.public_id)


class Turn(models.Model):
    """One message in a conversation: the shopper's (with what was understood), the assistant's
    (with what it showed) or a member of staff's answer."""

    class Role(models.TextChoices):
        SHOPPER = "shopper", _("shopper")
        ASSISTANT = "assistant", _("assistant")
        STAFF = "staff", _("staff")

    conversation = models.ForeignKey(Conversation, related_name="turns", on_delete=models.CASCADE)
    role = models.CharField(_("from"), max_length=16, choices=Role.choices)
    text = models.TextField(_("text"))
    intent = models.CharField(_("intent"), max_length=32, blank=True, db_index=True)
    confidence = models.FloatField(_("confidence"), null=True, blank=True)
    entities = models.JSONField(default=dict, blank=True)
    # The reply's structured parts as sent (products, actions, quick replies).
    parts = models.JSONField(default=dict, blank=True)
    fallback = models.BooleanField(_("not understood"), default=False)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.text[:60]


def link_is_safe(value: str) -> bool:
    """A page of this store ("/pages/shipping/") or an http(s) address: never "javascript:" or the like."""
    if value.startswith("/") and not value.startswith("//"):
        return True
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return False
    return True


def validate_link(value: str) -> None:
    if not link_is_safe(value):
        raise ValidationError(
            _("Give a page of this store (/pages/shipping/) or an address starting with https://."), code="link"
        )


class FaqEntry(models.Model):
    """A store question staff answer once (shipping, returns, payment, codes, points)."""

    question = models.CharField(_("question"), max_length=200)
    answer = models.TextField(_("answer"))
    # Words and phrases that ask it, one per line ("delivery time", "how long does shipping take").
    phrasings = models.TextField(_("other ways to ask"), blank=True)
    link = models.CharField(
        _("link"),
        max_length=200,
        blank=True,
        validators=[validate_link],
        help_text=_("A page that says more (/pages/shipping/)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")
        ordering = ["position", "id"]

    def __str__(self):
        return self.question


class Synonym(models.Model):
    """A word shoppers use for one the store uses ("sneakers" → "trainers", "cheap" → "budget")."""

    word = models.CharField(_("word"), max_length=64, unique=True)
    means = models.CharField(_("means"), max_length=64)

    class Meta:
        verbose_name = _("synonym")
        verbose_name_plural = _("synonyms")
        ordering = ["word"]

    def __str__(self):
        return f"{self.word} → {self.means}"


class Ticket(models.Model):
    """A conversation handed over to a person: staff answer it in the admin; the shopper gets the
    answer by email and in the chat (sent once through the outbox)."""

    class Status(models.TextChoices):
        OPEN = "open", _("waiting for an answer")
        ANSWERED = "answered", _("answered")
        CLOSED = "closed", _("closed")

    conversation = models.OneToOneField(Conversation, related_name="ticket", on_delete=models.CASCADE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    question = models.TextField(_("question"))
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("support ticket")
        verbose_name_plural = _("support tickets")
        ordering = ["status", "-opened_at"]

    def __str__(self):
        return f"{self.get_status_display()}: {self.question[:50]}"


class TicketEmail(models.Model):
    """A staff answer the shopper must get by email, written in the transaction that records the
    answer and sent once by a task (shop.core.outbox); a failed send is retried, then swept."""

    ticket = models.ForeignKey(Ticket, related_name="emails", on_delete=models.CASCADE)
    turn = models.OneToOneField(Turn, related_name="+", on_delete=models.CASCADE)  # the answer it carries
    to = models.EmailField(_("to"))
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("answer email")
        verbose_name_plural = _("answer emails")

    def __str__(self):
        return f"{self.to}: {self.ticket_id}"


class TelegramAnswerQuerySet(models.QuerySet):
    def waiting(self):
        """Answers still to send: neither sent nor refused by Telegram for good."""
        return self.filter(sent_at=None, failed_at=None)


class TelegramAnswer(models.Model):
    """A staff answer the shopper must get in the Telegram chat they asked in, written in the
    transaction that records the answer and sent once by a task (tickets.telegram_answer_send);
    a failed send is retried, then swept. Unlike an email, Telegram can refuse a message for good
    (the chat is gone, the bot was blocked): `failed_at` says so, and it is not tried again."""

    ticket = models.ForeignKey(Ticket, related_name="telegram_answers", on_delete=models.CASCADE)
    turn = models.OneToOneField(Turn, related_name="+", on_delete=models.CASCADE)  # the answer it carries
    chat_id = models.CharField(_("chat"), max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    objects = TelegramAnswerQuerySet.as_manager()

    class Meta:
        verbose_name = _("Telegram answer")
        verbose_name_plural = _("Telegram answers")

    def __str__(self):
        return f"Telegram {self.chat_id}: {self.ticket_id}"
