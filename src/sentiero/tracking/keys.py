"""Ingest keys: what a reporter presents (sentry-sdk's DSN public key, or the original's
``Authorization: Bearer``). A key is ``snt_<key id>_<secret>``; the store keeps the key id,
the project and a SHA-256 hash of the whole key, never the key. Checking compares hashes in
constant time. The same keys serve the envelope endpoint and ``/errors`` + ``/track``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sentiero.tracking.models import IngestKey, now_ms

_KEY = re.compile(r"^snt_([0-9a-f]{12})_([0-9a-f]{32})\Z")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: object, project: str) -> tuple[str, IngestKey]:
    """A new key for ``project``: returns (the key, shown once; the stored record)."""
    key_id = secrets.token_hex(6)
    key = f"snt_{key_id}_{secrets.token_hex(16)}"
    record = IngestKey(key_id=key_id, project=project, secret_hash=hash_key(key),
                       created_ms=now_ms())
    store.save_ingest_key(record)  # type: ignore[attr-defined]
    return key, record


def resolve_key(store: object, key: str | None) -> IngestKey | None:
    """The active ingest key record ``key`` belongs to, or None (unknown, malformed or
    revoked)."""
    if not key:
        return None
    match = _KEY.match(key.strip())
    if match is None:
        return None
    record = store.get_ingest_key(match.group(1))  # type: ignore[attr-defined]
    if record is None:
        hmac.compare_digest(hash_key(key), "0" * 64)  # same work for unknown ids
        return None
    if not hmac.compare_digest(hash_key(key.strip()), record.secret_hash):
        return None
    return record if record.active else None
