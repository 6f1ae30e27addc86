"""The assistant's storefront pages (the API's messages are in config/api_urls.py)."""

from django.urls import path

from marketing.assistant import views

app_name = "assistant"

urlpatterns = [
    path("", views.chat, name="chat"),
    path("history/", views.history, name="history"),
]
