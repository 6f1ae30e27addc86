"""The Telegram webhook, under /api/v1/assistant/telegram/ (a plain view: not in the API's schema,
which is for API clients; Telegram is the only caller)."""

from django.urls import path

from marketing.assistant import telegram

urlpatterns = [path("", telegram.webhook, name="assistant-telegram")]
