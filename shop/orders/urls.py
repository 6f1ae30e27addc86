from django.urls import path

from shop.orders import views

app_name = "orders"
urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/review/", views.review, name="review"),
    path("orders/lookup/", views.lookup, name="lookup"),
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/pay/confirm/", views.pay_confirm, name="pay_confirm"),
    path("orders/<str:number>/cancel/", views.cancel, name="cancel"),
    path("orders/<str:number>/", views.detail, name="detail"),
    path("account/orders/", views.my_orders, name="mine"),
]
