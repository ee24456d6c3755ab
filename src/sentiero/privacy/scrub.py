"""Server-side input scrubbing: typed values never reach the store, whatever the client sent.

The recorder masks inputs before sending, but an event stream can come from an old, patched or
hostile client. :class:`PasswordScrubber` re-applies the masking on ingest. Masking replaces a
non-empty value with :data:`INPUT_MASK` (eight ``*`` whatever its length, as the recorder does),
so no length is stored and the replay still shows that something was typed; an empty value stays
empty. With ``preserve_length`` (``Settings.mask_preserve_length``) non-password values keep one
``*`` per character instead; passwords get the fixed mask always.

What is covered, exactly:

1. Password fields, always: ``<input type="password">`` (``type`` compared case-insensitively;
   an attribute mutation that sets ``type=password`` marks the node too, and a node once seen as
   a password stays one for the window, so "show password" toggles do not unmask it). Masked:
   the ``value`` attribute in full snapshots (type 2), in mutation adds (type 3, source 0,
   ``adds[].node`` subtrees) and in attribute mutations (``attributes[].attributes.value``), and
   the ``text`` of input events (type 3, source 5) targeting the node.
2. With ``mask_all_inputs`` (the default), every other form value too, unless the node is inside
   a ``[data-sentiero-unmask]`` subtree seen in a snapshot or mutation add:
   - the ``text`` of every input event not already all ``*``. A target id the scrubber has never
     seen is masked: a client cannot skip the snapshot to keep typed text;
   - the ``value`` attribute of ``<input>`` (all types except checkbox, radio, submit, button,
     reset and image, whose value is markup, not typing; hidden inputs are masked),
     ``<textarea>`` and ``<select>`` nodes in snapshots and adds, and in attribute mutations of
     nodes known to be such fields;
   - the text children of ``<textarea>`` in snapshots and adds, and text mutations
     (``texts[].value``) of those text nodes.

Not covered: text typed into ``contenteditable`` elements (it arrives as ordinary DOM text; use
``data-rr-mask`` on them), an unmask attribute added by a later attribute mutation (ignored, so
the subtree stays masked), and ``value`` attribute mutations of nodes the scrubber never saw.

3. With ``mask_all_text`` (``Settings.mask_all_text``), all page text too, outside
   ``[data-sentiero-unmask]`` subtrees: every non-space character of text, CDATA and comment
   nodes (not ``<style>`` text) becomes ``*`` in snapshots, adds and text mutations (a text
   node the scrubber never saw is masked), so are the human-readable attributes in
   :data:`MASKED_TEXT_ATTRIBUTES`, and ``navigation`` custom events lose their link ``text``
   (the server cannot tell whether the link was inside an unmasked region).

With ``dom`` (the Redactor's :class:`~sentiero.privacy.dom.DomRules`), the same walk also
redacts page text and URL-bearing attributes, in place: one pass over a batch's DOM for both.

Snapshots and input events can arrive in different batches, so the scrubber keeps a small
:class:`ScrubState` per window that the caller persists between batches (``to_dict`` /
``from_dict``). A full snapshot starts a new page: every set but the password ids is rebuilt.
Events are modified in place (ingest owns freshly parsed events; copying a 10 MB batch to change a
few strings would be waste) and the same list is returned.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from sentiero.privacy.dom import DomRules

UNMASK_ATTRIBUTE = "data-sentiero-unmask"
_UNMASKED_INPUT_TYPES = frozenset({"checkbox", "radio", "submit", "button", "reset", "image"})
MASKED_TEXT_ATTRIBUTES = frozenset({
    "title", "alt", "placeholder", "label", "summary", "aria-label", "aria-description",
    "aria-valuetext", "aria-placeholder", "aria-roledescription",
})
"""Attributes whose value is text a person reads; masked like text nodes by mask_all_text."""
_TEXT_NODE_TYPES = (3, 4, 5)  # rrweb: Text, CDATA, Comment
_NON_SPACE = re.compile(r"\S")
_STATE_FIELDS = ("password_ids", "unmasked_ids", "field_ids", "textarea_ids", "field_text_ids")


_FIELD_TAGS = frozenset({"input", "textarea", "select"})


def _node_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


INPUT_MASK = "********"
"""What every masked, non-empty form value is stored as (twin of masking.js's INPUT_MASK)."""


def mask_text(value: str) -> str:
    """Page text masked the way the recorder's maskTextFn does: whitespace kept for layout."""
    return _NON_SPACE.sub("*", value)


def _masked(value: str, preserve_length: bool = False) -> str:
    if not value:
        return ""
    return "*" * len(value) if preserve_length else INPUT_MASK


@dataclass
class ScrubState:
    """What the scrubber knows about one window's nodes; persist it between batches."""

    password_ids: set[int] = field(default_factory=set)
    """Password inputs (sticky for the window)."""
    unmasked_ids: set[int] = field(default_factory=set)
    """Elements inside a [data-sentiero-unmask] subtree."""
    field_ids: set[int] = field(default_factory=set)
    """Value-bearing form fields: input (masked types), textarea, select."""
    textarea_ids: set[int] = field(default_factory=set)
    field_text_ids: set[int] = field(default_factory=set)
    """Text nodes inside a textarea."""

    def new_page(self) -> None:
        """A full snapshot describes the page anew; only password ids carry over."""
        self.unmasked_ids.clear()
        self.field_ids.clear()
        self.textarea_ids.clear()
        self.field_text_ids.clear()

    def to_dict(self) -> dict[str, list[int]]:
        return {name: sorted(getattr(self, name)) for name in _STATE_FIELDS}

    @classmethod
    def from_dict(cls, data: Any) -> ScrubState:
        """Tolerant: anything malformed is read as empty (which masks more, never less)."""
        state = cls()
        if isinstance(data, dict):
            for name in _STATE_FIELDS:
                values = data.get(name)
                if isinstance(values, list):
                    getattr(state, name).update(v for v in values if _node_id(v) is not None)
        return state


class PasswordScrubber:
    """Masks password values always, and every form value when ``mask_all_inputs``."""

    def __init__(
        self,
        mask_all_inputs: bool = True,
        *,
        preserve_length: bool = False,
        mask_all_text: bool = False,
        dom: DomRules | None = None,
    ) -> None:
        self.mask_all_inputs = mask_all_inputs
        self.preserve_length = preserve_length
        self.mask_all_text = mask_all_text
        self.dom = dom

    def _mask(self, value: str, password: bool) -> str:
        """The stored form of a masked value; passwords never keep their length."""
        return _masked(value, self.preserve_length and not password)

    @overload
    def scrub_events(
        self, events: list[Any], state: ScrubState | None = None
    ) -> tuple[list[Any], ScrubState]: ...

    @overload
    def scrub_events(self, events: list[Any], state: set[int]) -> tuple[list[Any], set[int]]: ...

    def scrub_events(self, events: list[Any], state: Any = None) -> tuple[list[Any], Any]:
        """Scrub one batch of a window's events in order; returns ``(events, updated state)``.

        ``state`` is the window's :class:`ScrubState` (None for a new window). A bare set of
        password node ids is accepted too and a set is returned; unmask information is then not
        carried between batches, so unmasked fields in later batches are masked (safe side).
        """
        as_set = isinstance(state, (set, frozenset))
        if as_set:
            st = ScrubState(password_ids={i for i in state if _node_id(i) is not None})
        elif isinstance(state, ScrubState):
            st = state
        else:
            st = ScrubState()
        for event in events:
            if isinstance(event, dict):
                self._scrub_event(event, st)
        return events, (set(st.password_ids) if as_set else st)

    # ---- decisions ---------------------------------------------------------------------------

    def _masks_input(self, node_id: int | None, st: ScrubState) -> bool:
        if node_id is not None and node_id in st.password_ids:
            return True
        return self.mask_all_inputs and (node_id is None or node_id not in st.unmasked_ids)

    def _masks_field(self, node_id: int, st: ScrubState) -> bool:
        if node_id in st.password_ids:
            return True
        return self.mask_all_inputs and node_id in st.field_ids and node_id not in st.unmasked_ids

    # ---- events ------------------------------------------------------------------------------

    def _scrub_event(self, event: MutableMapping[str, Any], st: ScrubState) -> None:
        data = event.get("data")
        if not isinstance(data, dict):
            return
        kind = event.get("type")
        if kind == 2:
            st.new_page()
            self._walk([data.get("node")], st, adds=False)
        elif kind == 3:
            source = data.get("source")
            if source == 0:
                self._scrub_mutation(data, st)
                if self.dom is not None:
                    self.dom.mutation(data)
                return
            if source == 5:
                self._scrub_input(data, st)
            if self.dom is not None:
                self.dom.incremental(data)
        elif kind == 5 and self.mask_all_text and data.get("tag") == "navigation":
            payload = data.get("payload")
            if isinstance(payload, dict):
                payload.pop("text", None)

    def _scrub_input(self, data: MutableMapping[str, Any], st: ScrubState) -> None:
        node_id = _node_id(data.get("id"))
        if not self._masks_input(node_id, st):
            return
        text = data.get("text")
        if isinstance(text, str):
            password = node_id is not None and node_id in st.password_ids
            if password or not self.preserve_length or text.strip("*"):
                data["text"] = self._mask(text, password)
        elif "text" in data:
            data["text"] = ""

    def _scrub_mutation(self, data: MutableMapping[str, Any], st: ScrubState) -> None:
        adds = data.get("adds")
        if isinstance(adds, list):
            self._walk(adds, st, adds=True)
        attributes = data.get("attributes")
        if isinstance(attributes, list):
            for change in attributes:
                if not isinstance(change, dict) or not isinstance(change.get("attributes"), dict):
                    continue
                node_id = _node_id(change.get("id"))
                attrs = change["attributes"]
                if self.mask_all_text and (node_id is None or node_id not in st.unmasked_ids):
                    self._mask_text_attributes(attrs)
                kind = attrs.get("type")
                if node_id is not None and isinstance(kind, str) and kind.lower() == "password":
                    st.password_ids.add(node_id)
                value = attrs.get("value")
                if (
                    node_id is not None
                    and isinstance(value, str)
                    and self._masks_field(node_id, st)
                ):
                    attrs["value"] = self._mask(value, node_id in st.password_ids)
        texts = data.get("texts")
        if isinstance(texts, list):
            for change in texts:
                if not isinstance(change, dict):
                    continue
                node_id = _node_id(change.get("id"))
                value = change.get("value")
                if (
                    self.mask_all_text
                    and isinstance(value, str)
                    and (node_id is None or node_id not in st.unmasked_ids)
                ):
                    change["value"] = mask_text(value)
                if (
                    node_id is not None
                    and node_id in st.field_text_ids
                    and isinstance(value, str)
                    and self._masks_field_text(node_id, st)
                ):
                    change["value"] = self._mask(value, False)

    def _masks_field_text(self, node_id: int, st: ScrubState) -> bool:
        return self.mask_all_inputs and node_id not in st.unmasked_ids

    @staticmethod
    def _mask_text_attributes(attrs: dict[str, Any]) -> None:
        for name in MASKED_TEXT_ATTRIBUTES.intersection(attrs):
            value = attrs[name]
            if isinstance(value, str):
                attrs[name] = mask_text(value)

    # ---- serialized node trees ---------------------------------------------------------------

    def _walk(self, roots: list[Any], st: ScrubState, *, adds: bool) -> None:
        """Record and mask form fields in serialized node trees, and redact each node with
        :attr:`dom`, in one pass. ``roots``: a snapshot's root node, or (``adds``) a
        mutation's adds, each tree walked after the previous one is done, since a later add
        may sit under an earlier one and inherits what its parent passes down (an unmask
        subtree, a textarea). Iterative: hostile trees can be deeper than the Python stack.
        The common node (an element that is no form field, a text node outside a textarea)
        costs a few dict lookups and the DOM rules."""
        dom_node = self.dom.node if self.dom is not None else None
        mask_all_text = self.mask_all_text
        unmasked_ids, textarea_ids = st.unmasked_ids, st.textarea_ids
        stack: list[tuple[Any, bool, bool]] = []
        for root in roots:
            if not adds:
                stack.append((root, False, False))
            elif isinstance(root, dict):
                parent = root.get("parentId")
                if type(parent) is not int:
                    parent = _node_id(parent)
                if parent is None:
                    stack.append((root.get("node"), False, False))
                else:
                    stack.append((root.get("node"), parent in unmasked_ids,
                                  parent in textarea_ids))
            while stack:
                node, unmasked, in_textarea = stack.pop()
                if type(node) is not dict and not isinstance(node, dict):
                    continue
                node_id = node.get("id")
                if type(node_id) is not int:
                    node_id = _node_id(node_id)
                if node.get("type") in _TEXT_NODE_TYPES:
                    if mask_all_text or in_textarea:
                        self._scrub_text_node(node, node_id, unmasked, in_textarea, st)
                    if dom_node is not None:
                        dom_node(node)
                    continue
                attrs = node.get("attributes")
                if attrs:
                    if type(attrs) is not dict and not isinstance(attrs, dict):
                        attrs = {}
                    elif UNMASK_ATTRIBUTE in attrs:
                        unmasked = True
                else:
                    attrs = {}
                if unmasked and node_id is not None:
                    unmasked_ids.add(node_id)
                if mask_all_text and not unmasked and attrs:
                    self._mask_text_attributes(attrs)
                tag = node.get("tagName")
                tag = tag.lower() if isinstance(tag, str) else ""
                if tag in _FIELD_TAGS:
                    self._scrub_field(node, tag, attrs, node_id, unmasked, st)
                if dom_node is not None:
                    dom_node(node)
                children = node.get("childNodes")
                if children and isinstance(children, list):
                    is_textarea = tag == "textarea"
                    stack.extend([(child, unmasked, is_textarea) for child in children])

    def _scrub_text_node(self, node: dict[str, Any], node_id: int | None, unmasked: bool,
                         in_textarea: bool, st: ScrubState) -> None:
        if self.mask_all_text and not node.get("isStyle"):
            if unmasked:
                if node_id is not None:
                    st.unmasked_ids.add(node_id)
            elif isinstance(node.get("textContent"), str):
                node["textContent"] = mask_text(node["textContent"])
        if in_textarea:
            if node_id is not None:
                st.field_text_ids.add(node_id)
                if unmasked:
                    st.unmasked_ids.add(node_id)
            text = node.get("textContent")
            if isinstance(text, str) and self.mask_all_inputs and not unmasked:
                node["textContent"] = self._mask(text, False)

    def _scrub_field(
        self,
        node: MutableMapping[str, Any],
        tag: str,
        attrs: dict[str, Any],
        node_id: int | None,
        unmasked: bool,
        st: ScrubState,
    ) -> None:
        password = False
        if tag == "input":
            kind = attrs.get("type")
            kind = kind.lower() if isinstance(kind, str) else ""
            password = kind == "password"
            if kind in _UNMASKED_INPUT_TYPES:
                return
        if node_id is not None:
            st.field_ids.add(node_id)
            if password:
                st.password_ids.add(node_id)
            if tag == "textarea":
                st.textarea_ids.add(node_id)
        password = password or (node_id is not None and node_id in st.password_ids)
        value = attrs.get("value")
        if isinstance(value, str) and (password or (self.mask_all_inputs and not unmasked)):
            node["attributes"]["value"] = self._mask(value, password)
