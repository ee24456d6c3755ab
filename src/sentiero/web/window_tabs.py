"""Which window of a session the dashboard opens, and the tab switcher's order.

A session's *main* window is the one with the most activity (recorded events), ties going to
the earliest; the switcher lists windows by activity too, numbered by when they started
("Tab 1" is the first opened), a few inline and the rest behind "+N more".
"""

from __future__ import annotations

from dataclasses import dataclass

from sentiero.stores.base import SessionSummary, WindowSummary

INLINE_TABS = 5


def _activity_order(window: WindowSummary, position: int) -> tuple[int, int, int]:
    started = window.first_ms if window.first_ms is not None else 2**63
    return (-window.event_count, started, position)


def main_window(session: SessionSummary) -> str | None:
    if not session.windows:
        return None
    ranked = sorted(enumerate(session.windows), key=lambda p: _activity_order(p[1], p[0]))
    return ranked[0][1].window_id


@dataclass(frozen=True)
class Tab:
    id: str
    label: str
    url: str
    active: bool
    event_count: int
    duration_ms: int | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "label": self.label, "url": self.url, "active": self.active,
                "eventCount": self.event_count}


def window_tabs(session: SessionSummary, active_id: str, url_for: dict[str, str]
                ) -> tuple[list[Tab], list[Tab]]:
    """(inline, overflow): tabs by activity; the active one is always inline."""
    tabs = []
    for number, window in enumerate(session.windows, start=1):
        duration = (None if window.first_ms is None or window.last_ms is None
                    else max(0, window.last_ms - window.first_ms))
        tabs.append((_activity_order(window, number), Tab(
            window.window_id, f"Tab {number}", url_for[window.window_id],
            window.window_id == active_id, window.event_count, duration)))
    ordered = [tab for _, tab in sorted(tabs, key=lambda pair: pair[0])]
    inline = ordered[:INLINE_TABS]
    overflow = ordered[INLINE_TABS:]
    active = next((t for t in overflow if t.active), None)
    if active is not None:
        overflow = [t for t in overflow if not t.active] + [inline[-1]]
        inline = inline[:-1] + [active]
        overflow.sort(key=ordered.index)
    return inline, overflow
