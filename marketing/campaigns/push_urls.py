"""Notifications on and off in a browser (marketing/campaigns/push_views.py)."""

from django.urls import path

from marketing.campaigns import push_views

app_name = "campaigns_push"

urlpatterns = [
    path("subscribe/", push_views.subscribe, name="subscribe"),
    path("unsubscribe/", push_views.unsubscribe, name="unsubscribe"),
]
