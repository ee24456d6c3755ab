from django.contrib import admin
from django.urls import include, path

from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),  # login, logout
    path("sentiero/", include("sentiero.contrib.django.urls")),
]
