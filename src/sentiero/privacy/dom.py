"""Redaction of recorded page content: rrweb's serialized nodes and DOM mutations.

Page text and links carry personal data as often as form fields do (a greeting with the user's
email, an ``<a href="/reset?token=...">``, an avatar URL with a signed query). The redaction
engine therefore scans the DOM by default (``RedactionConfig.scan_dom``), with the same text
patterns as every other string and the same ``url_mode`` as page URLs (twin of
frontend/src/recorder/redaction-dom.js):

- text, CDATA and comment nodes: the text patterns; text of ``<style>`` (``isStyle``) only for
  its ``url(...)`` references, as URLs;
- URL attributes (``href``, ``src``, ``action``, ``formaction``, ``poster``, ``cite``,
  ``background``, ``longdesc``, ``ping``, ``data``, ``xlink:href``, ``manifest``,
  ``codebase``): as URLs, every candidate of ``srcset``/``imagesrcset`` too. ``data:`` and
  ``blob:`` URLs are content, not addresses: left as they are;
- ``style`` and rrweb's inlined stylesheets (``_cssText``): every ``url(...)``, as a URL;
- human-readable attributes (``title``, ``alt``, ``placeholder``, ``label``, ``value``,
  ``content``, ``summary``), every ``aria-*`` and every ``data-*``: a value that looks like a URL
  (``scheme:...``, ``/path``, ``./``, ``../``, ``?query``, no whitespace) as a URL, any other
  value by the text patterns. ``class``, ``id``, SVG geometry and the like are not scanned:
  they are markup, and digit runs in a path's ``d`` could look like a card number.

So in the default ``strip`` mode links and asset URLs lose their query and fragment; in
``keep_filtered`` only denylisted parameters (``token``, ``code``, ...) are removed and a
cache-busting ``?v=3`` survives, so assets still load in the replay.

:class:`DomRules` redacts one node or one value at a time, in place: the ingest pipeline calls
it from the password scrubber's walk, so a batch's DOM is walked once for masking and redaction
together. :meth:`DomRules.redact_event` is the copying variant for callers that must not
modify their input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "poster", "cite", "background", "longdesc", "ping",
    "data", "xlink:href", "manifest", "codebase",
})
SRCSET_ATTRIBUTES = frozenset({"srcset", "imagesrcset"})
CSS_ATTRIBUTES = frozenset({"style", "_cssText"})
TEXT_ATTRIBUTES = frozenset({
    "title", "alt", "placeholder", "label", "value", "content", "summary",
})
_SCANNED_ATTRIBUTES = URL_ATTRIBUTES | SRCSET_ATTRIBUTES | CSS_ATTRIBUTES | TEXT_ATTRIBUTES
_SCANNED_PREFIXES = ("data-", "aria-")
_URL_LIKE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:|/|\.\.?/|\?)\S*\Z")
_CONTENT_SCHEMES = ("data:", "blob:")
_TEXT_NODE_TYPES = (3, 4, 5)  # rrweb: Text, CDATA, Comment


def looks_like_url(value: str) -> bool:
    return _URL_LIKE.match(value) is not None


class DomRules:
    """The DOM half of the redaction engine, built by the Redactor from its own text and URL
    redaction (so patterns, custom patterns and ``url_mode`` are the configured ones)."""

    def __init__(self, redact_text: Callable[[str], str], redact_url: Callable[[str], str]):
        self.text = redact_text
        self._redact_url = redact_url

    # ---- values ------------------------------------------------------------------------------

    def url(self, value: str) -> str:
        head = value.lstrip()[:5].lower()
        if head.startswith(_CONTENT_SCHEMES):
            return value
        return self._redact_url(value)

    def css(self, css: str) -> str:
        """Every ``url(...)`` in a stylesheet or style attribute, as a URL. A hand-written scan
        (linear on hostile input: no regex backtracking over unclosed ``url(``)."""
        lower = css.lower()
        i = lower.find("url(")
        if i == -1:
            return css
        out: list[str] = []
        last = 0
        while i != -1:
            start = i + 4
            end = css.find(")", start)
            if end == -1:
                break  # no later url( can be closed either
            inner = css[start:end]
            stripped = inner.strip()
            quote = stripped[:1] if stripped[:1] in ("'", '"') else ""
            if quote and len(stripped) >= 2 and stripped.endswith(quote):
                address = stripped[1:-1]
            else:
                quote, address = "", stripped
            redacted = self.url(address) if address else address
            if redacted != address:
                out.append(css[last:start])
                out.append(quote + redacted + quote)
                last = end
            i = lower.find("url(", end + 1)
        if not out:
            return css
        out.append(css[last:])
        return "".join(out)

    def srcset(self, value: str) -> str:
        """Each image candidate's URL (``a.jpg 1x, b.jpg?t=1 2x``), separators kept."""
        out: list[str] = []
        i, n = 0, len(value)
        while i < n:
            j = i
            while j < n and (value[j].isspace() or value[j] == ","):
                j += 1
            out.append(value[i:j])
            if j >= n:
                break
            k = j
            while k < n and not value[k].isspace():
                k += 1
            candidate = value[j:k]
            address = candidate.rstrip(",")
            out.append(self.url(address) + candidate[len(address):])
            i = k
            if address != candidate:
                continue  # "url," ends the candidate: no descriptors
            comma = value.find(",", i)
            comma = n if comma == -1 else comma
            out.append(value[i:comma])
            i = comma
        return "".join(out)

    def attribute(self, name: str, value: Any) -> Any:
        """One attribute value (a string, or a mutation's style diff ``{prop: value}``)."""
        if isinstance(value, dict):  # style diff of an attribute mutation
            return {k: self._style_value(v) for k, v in value.items()}
        if not isinstance(value, str) or not value:
            return value
        if name in URL_ATTRIBUTES:
            return self.url(value)
        if name in SRCSET_ATTRIBUTES:
            return self.srcset(value)
        if name in CSS_ATTRIBUTES:
            return self.css(value)
        if name in TEXT_ATTRIBUTES or name.startswith(("data-", "aria-")):
            return self.url(value) if looks_like_url(value) else self.text(value)
        return value

    def _style_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.css(value)
        if isinstance(value, list):  # [value, priority]
            return [self.css(v) if isinstance(v, str) else v for v in value]
        return value

    # ---- serialized nodes, in place ----------------------------------------------------------

    def node(self, node: dict[str, Any]) -> None:
        """Redact one serialized node (not its children), in place."""
        kind = node.get("type")
        if kind == 2:
            attrs = node.get("attributes")
            if isinstance(attrs, dict) and attrs:
                changed = None
                for name, value in attrs.items():
                    # a string value of an attribute no rule reads is markup: skip it fast
                    if type(value) is str and name not in _SCANNED_ATTRIBUTES and not (
                            isinstance(name, str) and name.startswith(_SCANNED_PREFIXES)):
                        continue
                    if isinstance(name, str):
                        redacted = self.attribute(name, value)
                        if redacted is not value:
                            changed = changed or []
                            changed.append((name, redacted))
                if changed:
                    attrs.update(changed)
        elif kind in _TEXT_NODE_TYPES:
            text = node.get("textContent")
            if isinstance(text, str) and text:
                node["textContent"] = self.css(text) if node.get("isStyle") else self.text(text)

    def attribute_changes(self, attributes: Any) -> None:
        """A mutation's ``attributes[].attributes`` dict, in place."""
        if isinstance(attributes, dict):
            for name, value in list(attributes.items()):
                if isinstance(name, str):
                    attributes[name] = self.attribute(name, value)

    def incremental(self, data: dict[str, Any]) -> None:
        """The parts of an incremental snapshot other than DOM mutations that carry page
        content: input text (source 5), stylesheet rules (8), style declarations (13)."""
        source = data.get("source")
        if source == 5:
            text = data.get("text")
            if isinstance(text, str) and text:
                data["text"] = self.text(text)
        elif source == 8:
            for rule in data.get("adds") or ():
                if isinstance(rule, dict) and isinstance(rule.get("rule"), str):
                    rule["rule"] = self.css(rule["rule"])
        elif source == 13:
            change = data.get("set")
            if isinstance(change, dict) and isinstance(change.get("value"), str):
                change["value"] = self.css(change["value"])

    def mutation(self, data: dict[str, Any]) -> None:
        """Text and attribute changes of a DOM mutation (source 0), in place; added nodes are
        left to the caller's walk."""
        for change in data.get("texts") or ():
            if isinstance(change, dict) and isinstance(change.get("value"), str):
                change["value"] = self.text(change["value"])
        for change in data.get("attributes") or ():
            if isinstance(change, dict):
                self.attribute_changes(change.get("attributes"))

    # ---- copying variant ---------------------------------------------------------------------

    def redact_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A DOM event (full or incremental snapshot) copied and redacted; the input is left
        untouched. Iterative: a hostile, very deep tree must not exhaust the Python stack."""
        data = event.get("data")
        if not isinstance(data, dict):
            return event
        copy = _copy_tree(data)
        kind = event.get("type")
        if kind == 2:
            self.walk(copy.get("node"))
        elif kind == 3:
            if copy.get("source") == 0:
                self.mutation(copy)
                for add in copy.get("adds") or ():
                    if isinstance(add, dict):
                        self.walk(add.get("node"))
            else:
                self.incremental(copy)
        return {**event, "data": copy}

    def walk(self, root: Any) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if not isinstance(node, dict):
                continue
            self.node(node)
            children = node.get("childNodes")
            if isinstance(children, list):
                stack.extend(children)


def _copy_tree(value: Any) -> Any:
    """A deep copy of JSON-like data without recursion."""
    if not isinstance(value, (dict, list)):
        return value
    root: Any = dict(value) if isinstance(value, dict) else list(value)
    stack = [root]
    while stack:
        item = stack.pop()
        keys = item.keys() if isinstance(item, dict) else range(len(item))
        for key in keys:
            child = item[key]
            if isinstance(child, dict):
                item[key] = dict(child)
                stack.append(item[key])
            elif isinstance(child, list):
                item[key] = list(child)
                stack.append(item[key])
    return root
