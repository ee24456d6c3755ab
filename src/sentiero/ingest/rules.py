"""The rage and dead click rules (inventory §4.2, §5.9); thresholds come from Settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrustrationRules:
    rage_min_clicks: int = 3
    rage_window_ms: int = 500
    rage_radius_px: int = 10
    dead_click_timeout_ms: int = 500
