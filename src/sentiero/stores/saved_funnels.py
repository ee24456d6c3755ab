"""Saved funnels: a name, the steps and the optional window of a funnel (sentiero.analytics.
funnel), kept in the store so the team shares them. Every backend stores the same JSON
document per funnel (``SavedFunnel.to_json``); a store that keeps none raises
``NotImplementedError`` from the ``Store`` defaults and the funnel page hides saving."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

MAX_SAVED = 200
MAX_NAME = 100
_FUNNEL_ID = re.compile(r"^[0-9a-f]{32}\Z")


def new_funnel_id() -> str:
    return secrets.token_hex(16)


def valid_funnel_id(funnel_id: Any) -> bool:
    return isinstance(funnel_id, str) and bool(_FUNNEL_ID.match(funnel_id))


@dataclass(frozen=True)
class SavedFunnel:
    funnel_id: str
    name: str
    steps: tuple[tuple[str, str], ...]  # (kind, value): "tag"/"url" and the tag or pattern
    within_ms: int | None
    created_at: datetime

    def to_json(self) -> bytes:
        return orjson.dumps({"id": self.funnel_id, "name": self.name,
                             "steps": [list(s) for s in self.steps],
                             "within_ms": self.within_ms,
                             "created_at": self.created_at.astimezone(timezone.utc).isoformat()})

    @classmethod
    def from_json(cls, raw: bytes | str) -> SavedFunnel | None:
        """None for a document this version cannot read (left out of lists)."""
        try:
            data = orjson.loads(raw)
            steps = tuple((str(k), str(v)) for k, v in data["steps"])
            within = data.get("within_ms")
            return cls(str(data["id"]), str(data["name"]), steps,
                       int(within) if within is not None else None,
                       datetime.fromisoformat(data["created_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def sorted_funnels(funnels: list[SavedFunnel | None]) -> list[SavedFunnel]:
    """Readable ones, by name (case-insensitive), then newest."""
    kept = [f for f in funnels if f is not None]
    kept.sort(key=lambda f: f.created_at, reverse=True)
    kept.sort(key=lambda f: f.name.lower())
    return kept
