"""Move recordings between stores, or out of Sentiero: ``sentiero export`` / ``import``.

The file is JSON lines. The first line is a header::

    {"format": "sentiero-export", "version": 3, "sessions": <count>, "saved_funnels": <count>,
     "exported_at": "..."}

then one line per saved funnel (``sentiero.stores.saved_funnels``; only in an export of every
session, as funnels belong to no session)::

    {"saved_funnel": {"id": ..., "name": ..., "steps": [["url", "/cart"], ...],
                      "within_ms": ..., "created_at": ISO-8601}}

and every following line is one session::

    {"session_id": ..., "created_at": ISO-8601, "updated_at": ..., "metadata": {...},
     "user_agent": ..., "last_url": ..., "has_errors": bool,
     "windows": [{"window_id": ..., "chunks": [{"index": 0, "seq": 0, "events": [...]}],
                  "state": {...}}],
     "facts": [{"kind": ..., "window_id": ..., "ts_ms": ..., "url": ..., "data": {...},
                "key": ..., "value": ...}],
     "occurrences": [...], "server_events": [...]}

Version 2 added the facts' ``key`` and ``value`` and the fact kinds of the analytics
(docs/CONTRACTS.md "Facts"). A version 1 file is still read: its facts, from before those
kinds existed, are left aside and derived again from the recorded events, as ingest would.
Version 3 added the saved funnels; importing one stores it by its id (an identical one
already there is left as it is, so a second import changes nothing).

``occurrences`` and ``server_events`` (optional) are the session's error-tracking records
(``sentiero.tracking.models``, as dicts); importing one stores it once (by its id) and counts
it into its problem in the target store.

``state`` (optional) is the window's ingest state (the password scrubber's memory of which
nodes are password and form fields), so batches recorded after a move are masked the same way.
Chunks keep their boundaries and ``seq``, so importing goes through ``save_batch`` exactly as
the recorder's batches did and importing the same file twice stores nothing twice. Chunks
recorded without a seq (the original recorder) cannot be recognised, so they are only
imported into sessions the target store does not have yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import orjson

from sentiero.stores.base import Batch, Fact, Store, WindowRef, utcnow, validate_id
from sentiero.stores.saved_funnels import MAX_NAME, SavedFunnel, valid_funnel_id

FORMAT = "sentiero-export"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
_CHUNK_PAGE = 200

Progress = Callable[[int, int], None]


def export_sessions(
    store: Store,
    out: IO[bytes],
    session_ids: Iterable[str] | None = None,
    progress: Progress | None = None,
    saved_funnels: bool | None = None,
) -> int:
    """Write the sessions (default: all, oldest first) to ``out``; returns how many were
    written. Sessions that disappear meanwhile (or were never there) are left out. The
    store's saved funnels go along when ``saved_funnels`` is true (default: when every
    session is exported)."""
    if session_ids is None:
        ids = list(store.iter_session_ids())
    else:
        ids = [validate_id(s, "session id") for s in session_ids]
    funnels = _saved_funnels(store) if (session_ids is None if saved_funnels is None
                                         else saved_funnels) else []
    header = {
        "format": FORMAT,
        "version": VERSION,
        "sessions": len(ids),
        "saved_funnels": len(funnels),
        "exported_at": utcnow().isoformat(),
    }
    out.write(orjson.dumps(header) + b"\n")
    for funnel in funnels:
        out.write(b'{"saved_funnel":' + funnel.to_json() + b"}\n")
    written = 0
    for done, session_id in enumerate(ids, start=1):
        record = _session_record(store, session_id)
        if record is not None:
            out.write(orjson.dumps(record) + b"\n")
            written += 1
        if progress is not None:
            progress(done, len(ids))
    return written


def _session_record(store: Store, session_id: str) -> dict[str, Any] | None:
    summary = store.get_session(session_id)
    if summary is None:
        return None
    windows = []
    for window in summary.windows:
        ref = WindowRef(session_id, window.window_id)
        chunks: list[dict[str, Any]] = []
        start = 0
        while True:  # page through chunks so one long window never sits in memory twice
            page = store.get_chunks(ref, start_index=start, limit=_CHUNK_PAGE)
            chunks.extend(
                {"index": c.info.index, "seq": c.info.seq, "events": c.events()} for c in page
            )
            if len(page) < _CHUNK_PAGE:
                break
            start = page[-1].info.index + 1
        record: dict[str, Any] = {"window_id": window.window_id, "chunks": chunks}
        state = store.get_window_state(ref)
        if state is not None:
            record["state"] = state  # the scrubber's memory, so live batches can follow
        windows.append(record)
    facts = [
        {"kind": f.kind, "window_id": f.window_id, "ts_ms": f.ts_ms, "url": f.url, "data": f.data,
         "key": f.key, "value": f.value}
        for f in store.iter_facts(session_id=session_id)
    ]
    return {
        "session_id": session_id,
        "created_at": summary.created_at.isoformat(),
        "updated_at": summary.updated_at.isoformat(),
        "metadata": summary.metadata,
        "user_agent": summary.user_agent,
        "last_url": summary.last_url,
        "has_errors": summary.has_errors,
        "windows": windows,
        "facts": facts,
        **_tracking_records(store, session_id),
    }


_TRACKED_PER_SESSION = 10_000


def _tracking_records(store: Store, session_id: str) -> dict[str, Any]:
    from sentiero.tracking.models import ServerEventQuery

    try:
        occurrences = store.list_occurrences(session_id=session_id, limit=_TRACKED_PER_SESSION)
        events = store.list_server_events(
            ServerEventQuery(session_id=session_id, limit=_TRACKED_PER_SESSION))
    except NotImplementedError:  # a store without error tracking
        return {}
    out: dict[str, Any] = {}
    if occurrences:
        out["occurrences"] = [o.to_dict() for o in reversed(occurrences)]
    if events:
        out["server_events"] = [e.to_dict() for e in reversed(events)]
    return out


def _import_tracking(store: Store, session_id: str, record: dict[str, Any]) -> bool:
    from sentiero.tracking.models import Occurrence, ServerEvent

    occurrences = record.get("occurrences") or []
    events = record.get("server_events") or []
    if not occurrences and not events:
        return False
    known = {o.id for o in store.list_occurrences(session_id=session_id,
                                                   limit=_TRACKED_PER_SESSION)}
    stored = False
    for data in occurrences:
        occurrence = Occurrence.from_dict(data)
        if occurrence.session_id != session_id:
            raise ValueError("an occurrence of another session")
        if occurrence.id not in known:
            store.save_occurrence(occurrence)
            stored = True
    for data in events:
        event = ServerEvent.from_dict(data)
        if event.session_id != session_id:
            raise ValueError("a server event of another session")
        if store.get_server_event(event.id) is None:
            store.save_server_event(event)
            stored = True
    return stored


def _saved_funnels(store: Store) -> list[SavedFunnel]:
    try:
        return store.list_funnels()
    except NotImplementedError:  # a custom store that keeps none
        return []


@dataclass
class ImportResult:
    sessions: int = 0
    """Sessions that got at least one new batch (or tracking record)."""
    saved_funnels: int = 0
    """Saved funnels stored (new, or changed since an earlier import)."""
    funnels_not_kept: int = 0
    """Saved funnels of the file left out because the store keeps none."""


def import_sessions(store: Store, in_file: IO[bytes], progress: Progress | None = None) -> int:
    """Recreate the sessions (and saved funnels) of an export file in ``store``; returns how
    many sessions got at least one new batch (0 when the file was imported before)."""
    return import_file(store, in_file, progress).sessions


def import_file(store: Store, in_file: IO[bytes], progress: Progress | None = None
                ) -> ImportResult:
    """``import_sessions``, telling also what became of the saved funnels."""
    lines = iter(in_file)
    header = _parse(next(lines, b""), 1)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("not a Sentiero export file (the first line is not its header)")
    version = header.get("version")
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"this export file is format version {version}; this version of "
            f"Sentiero reads versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    total = int(header.get("sessions") or 0)
    result = ImportResult()
    funnels: list[SavedFunnel] = []  # every one checked before the first is stored
    done = 0
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        record = _parse(line, number)
        try:
            if version >= 3 and isinstance(record, dict) and "saved_funnel" in record:
                funnels.append(_funnel(record["saved_funnel"]))
                continue
            if funnels:
                _import_funnels(store, funnels, result)
                funnels = []
            if _import_session(store, record, rederive_facts=version == 1):
                result.sessions += 1
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"line {number} of the export file: {exc}") from exc
        done += 1
        if progress is not None:
            progress(done, max(total, done))
    _import_funnels(store, funnels, result)
    return result


def _funnel(doc: Any) -> SavedFunnel:
    """The saved funnel of an export line, checked as the funnel page checks a new one."""
    from sentiero.analytics.funnel import MAX_WITHIN_MS, make_steps

    funnel = SavedFunnel.from_json(orjson.dumps(doc)) if isinstance(doc, dict) else None
    if funnel is None or not valid_funnel_id(funnel.funnel_id):
        raise ValueError("not a saved funnel")
    if not funnel.name.strip() or len(funnel.name) > MAX_NAME:
        raise ValueError(f"a saved funnel needs a name of 1 to {MAX_NAME} characters")
    if funnel.within_ms is not None and not 0 < funnel.within_ms <= MAX_WITHIN_MS:
        raise ValueError("a saved funnel's time window is out of range")
    make_steps(list(funnel.steps))  # FunnelError (a ValueError) says what is wrong
    return funnel


def _import_funnels(store: Store, funnels: list[SavedFunnel], result: ImportResult) -> None:
    """Store each funnel by its id unless an identical one is there; ``StoreError`` past
    ``MAX_SAVED`` (the file is then not imported whole)."""
    if not funnels:
        return
    try:
        existing = {f.funnel_id: f for f in store.list_funnels()}
    except NotImplementedError:
        result.funnels_not_kept += len(funnels)
        return
    for funnel in funnels:
        if existing.get(funnel.funnel_id) != funnel:
            store.save_funnel(funnel)
            existing[funnel.funnel_id] = funnel
            result.saved_funnels += 1


def _parse(line: bytes | str, number: int) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"line {number} of the export file is not JSON: {exc}") from None


def _derive(session_id: str, window: dict[str, Any]) -> list[Fact]:
    """The facts ingest would have derived from a window's recorded (already redacted)
    events, chunk by chunk in recording order."""
    from sentiero.ingest.facts import FactState, derive_facts

    state = FactState()
    chunks = sorted(window.get("chunks") or [],
                    key=lambda c: min((e.get("timestamp", 0) for e in c.get("events") or []),
                                      default=0))
    facts: list[Fact] = []
    for chunk in chunks:
        facts.extend(derive_facts(session_id, window["window_id"], chunk.get("events") or [],
                                  state=state))
    return facts


def _import_session(store: Store, record: dict[str, Any], rederive_facts: bool = False) -> bool:
    session_id = validate_id(record["session_id"], "session id")
    created_at = datetime.fromisoformat(record["created_at"])
    updated_at = datetime.fromisoformat(record["updated_at"])
    existed = store.get_session(session_id) is not None
    facts_by_window: dict[str, list[Fact]] = {}
    for f in record.get("facts") or []:
        facts_by_window.setdefault(f["window_id"], []).append(
            Fact(
                f["kind"],
                session_id,
                f["window_id"],
                int(f["ts_ms"]),
                f.get("url"),
                f.get("data") or {},
                f.get("key") if isinstance(f.get("key"), str) else None,
                float(f["value"]) if isinstance(f.get("value"), (int, float)) else None,
            )
        )
    if rederive_facts:
        facts_by_window = {
            window["window_id"]: _derive(session_id, window)
            for window in record.get("windows") or []
        }
    batches: list[Batch] = []
    for window in record.get("windows") or []:
        window_id = window["window_id"]
        facts = facts_by_window.pop(window_id, [])
        first_of_window = len(batches)
        for chunk in window.get("chunks") or []:
            if chunk.get("seq") is None and existed:
                continue  # cannot tell whether it is already there: keep what is
            batches.append(
                Batch(
                    session_id=session_id,
                    window_id=window_id,
                    events=chunk["events"],
                    seq=chunk.get("seq"),
                    metadata=record.get("metadata") or {},
                    facts=facts,  # with the window's first batch, so they follow its dedup
                    user_agent=record.get("user_agent"),
                    page_url=record.get("last_url"),
                    has_errors=bool(record.get("has_errors")),
                    received_at=created_at,
                )
            )
            facts = []
        state = window.get("state")
        if isinstance(state, dict) and len(batches) > first_of_window:
            batches[-1].window_state = state  # saved with the window's last batch
    if batches:
        batches[-1].received_at = updated_at  # created_at once, updated_at last
    stored = False
    for b in batches:
        stored = store.save_batch(b) or stored
    return _import_tracking(store, session_id, record) or stored
