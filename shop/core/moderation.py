"""What members can report, shared by everything they can report (product reviews, the board's
ads, messages and ratings), so moderators read one vocabulary."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportReason(models.TextChoices):
    SPAM = "spam", _("Spam or advertising")
    PROHIBITED = "prohibited", _("Prohibited item or content")
    FRAUD = "fraud", _("Fraud or scam")
    WRONG_CATEGORY = "wrong_category", _("Wrong category")
    OFFENSIVE = "offensive", _("Offensive or abusive")
