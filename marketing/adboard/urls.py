from django.urls import path

from marketing.adboard import views

app_name = "adboard"

urlpatterns = [
    path("", views.ad_list, name="list"),
    path("c/<slug:slug>/", views.ad_list, name="category"),
    path("post/", views.post, name="post"),
    path("mine/", views.mine, name="mine"),
    path("saved/", views.saved, name="saved"),
    path("searches/", views.search_save, name="search_save"),
    path("searches/<int:pk>/delete/", views.search_delete, name="search_delete"),
    path("messages/", views.inbox, name="inbox"),
    path("messages/<int:pk>/", views.conversation, name="conversation"),
    path("sellers/<int:pk>/", views.seller, name="seller"),
    path("sellers/<int:pk>/rate/", views.rate, name="rate"),
    path("ratings/<int:pk>/reply/", views.rating_reply, name="rating_reply"),
    path("report/", views.report, name="report"),
    path("<int:pk>-<slug:slug>/", views.ad_detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/renew/", views.renew, name="renew"),
    path("<int:pk>/sold/", views.sold, name="sold"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/save/", views.save, name="save"),
    path("<int:pk>/unsave/", views.unsave, name="unsave"),
    path("<int:pk>/contact/", views.contact, name="contact"),
]
