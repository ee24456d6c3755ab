"""``path("sentiero/", include("sentiero.contrib.django.urls"))``: the whole mount (events,
assets, dashboard) under whatever prefix the project includes it at."""

from django.urls import re_path

from sentiero.contrib.django.views import mount

app_name = "sentiero"
urlpatterns = [re_path(r"^(?P<path>.*)\Z", mount, name="mount")]
