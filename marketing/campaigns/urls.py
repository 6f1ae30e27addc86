from django.urls import path

from marketing.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("o/<str:token>.gif", views.opened, name="open"),
    path("c/<str:token>/<int:link>/", views.clicked, name="click"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("p/<str:token>/", views.preferences, name="preferences"),
    path("onsite/<int:pk>/dismiss/", views.dismiss, name="dismiss"),
]
