from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantConfig(AppConfig):
    name = "marketing.assistant"
    label = "assistant"
    verbose_name = _("Shopping assistant")

    def ready(self):
        from marketing.assistant import language_model, receivers, vocabulary  # noqa: F401
        # vocabulary: synonyms and FAQ entries refresh the matcher's words; language_model: its check;
        # receivers: a guest's conversations become the customer's at login.
