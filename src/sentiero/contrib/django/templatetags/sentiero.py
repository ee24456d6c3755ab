"""``{% load sentiero %}`` ... ``{% sentiero_script_tag %}`` in ``<head>``: the recorder, with
URLs under wherever the project includes ``sentiero.contrib.django.urls``, and the page's
CSP nonce when the project has one (django-csp's ``request.csp_nonce``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe

from sentiero.contrib.django.conf import get_sentiero

register = template.Library()


def mount_url() -> str | None:
    """The mount prefix from the URLconf (``/sentiero``), or None when it is not included."""
    try:
        return reverse("sentiero:mount", kwargs={"path": ""}).rstrip("/")
    except NoReverseMatch:
        return None


@register.simple_tag(takes_context=True)
def sentiero_script_tag(context: Any) -> SafeString:
    sentiero = get_sentiero()
    request = context.get("request")
    nonce = getattr(request, "csp_nonce", None) if request is not None else None
    prefix = None if sentiero.settings.public_url else mount_url()
    return mark_safe(str(sentiero.script_tag(prefix=prefix, nonce=str(nonce) if nonce else None)))
