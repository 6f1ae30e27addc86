"""Storefront pages of the loyalty program (mounted at the site root by config/urls.py)."""

from django.urls import path

from loyalty import views

app_name = "loyalty"
urlpatterns = [
    path("account/points/", views.points, name="points"),
    path("cart/points/", views.cart_points_apply, name="cart_points_apply"),
    path("cart/points/remove/", views.cart_points_remove, name="cart_points_remove"),
    path("r/<str:code>/", views.referral_landing, name="referral"),
]
