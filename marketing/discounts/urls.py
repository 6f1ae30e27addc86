"""The cart page's code form (mounted at cart/code/ by config/urls.py)."""

from django.urls import path

from marketing.discounts import views

app_name = "discounts"
urlpatterns = [
    path("", views.code_apply, name="apply"),
    path("remove/", views.code_remove, name="remove"),
]
