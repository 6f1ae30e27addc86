from django.urls import path

from shop.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.home, name="home"),
    path("products/", views.product_list, name="products"),
    path("category/<slug:slug>/", views.product_list, name="category"),
    path("product/<slug:slug>/", views.product_detail, name="product"),
    path("product/<slug:slug>/review/", views.review_create, name="review_create"),
    path("product/<slug:slug>/reviews/<int:pk>/edit/", views.review_edit, name="review_edit"),
    path("product/<slug:slug>/reviews/<int:pk>/delete/", views.review_delete, name="review_delete"),
    path("product/<slug:slug>/reviews/<int:pk>/helpful/", views.review_helpful, name="review_helpful"),
    path("product/<slug:slug>/reviews/<int:pk>/report/", views.review_report, name="review_report"),
]
