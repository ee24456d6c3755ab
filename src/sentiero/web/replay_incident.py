"""The replay page's "why it counted" panel: ``?incident=rage|dead&t=<ms>`` (the links of the
frustration page) names one incident of the window; sentiero.analytics.incident explains it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentiero.analytics.incident import SUBTYPES, Explanation, explain

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from sentiero.stores.base import WindowSummary
    from sentiero.web.routing import Web


@dataclass(frozen=True)
class IncidentPanel:
    subtype: str
    explanation: Explanation | None  # None: no such incident at that moment of this tab


def incident_panel(web: Web, request: Request, sid: str, window: WindowSummary
                   ) -> IncidentPanel | None:
    subtype = request.args.get("incident", "")
    raw = request.args.get("t", "")
    if subtype not in SUBTYPES or not raw.isdigit() or window.first_ms is None:
        return None
    t = int(raw)
    ts_ms = t if t >= window.first_ms else window.first_ms + t  # epoch ms, or an offset
    return IncidentPanel(subtype, explain(web.store, sid, window.window_id, subtype, ts_ms,
                                          window.first_ms, web.settings.frustration_rules()))
