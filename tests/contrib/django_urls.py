from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

PAGE = engines["django"].from_string(
    "{% load sentiero %}<!doctype html><html><head><title>Shop</title>{% sentiero_script_tag %}"
    "</head><body><h1>Shop</h1></body></html>")


def home(request):  # type: ignore[no-untyped-def]
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("", home),
    path("sentiero/", include("sentiero.contrib.django.urls")),
]
