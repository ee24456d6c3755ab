"""The Django ORM tables of ``DjangoStore`` (``manage.py migrate`` creates them).

The same shape as the SQL store's (sentiero/stores/sql_schema.py): times are integers
(``*_us`` epoch microseconds UTC for server times, ``*_ms`` epoch milliseconds for rrweb event
times), so they sort, index and round-trip exactly whatever ``USE_TZ`` says; JSON is kept as
text written by orjson, so what is read back is byte for byte what was stored.
"""

from __future__ import annotations

from django.db import models


class RecordedSession(models.Model):
    session_id = models.CharField(max_length=128, primary_key=True)
    created_us = models.BigIntegerField()
    updated_us = models.BigIntegerField()
    event_count = models.BigIntegerField(default=0)
    metadata_json = models.TextField(default="{}")
    search_text = models.TextField(default="")
    """Lower-cased metadata values, one a line: what the dashboard's search matches."""
    user_agent = models.TextField(null=True)
    last_url = models.TextField(null=True)
    last_url_ms = models.BigIntegerField(null=True)
    has_errors = models.BooleanField(default=False)

    class Meta:
        db_table = "sentiero_session"
        indexes = [
            models.Index(fields=["-updated_us", "session_id"], name="sentiero_session_updated"),
            models.Index(fields=["-created_us", "session_id"], name="sentiero_session_created"),
            models.Index(fields=["-event_count", "session_id"], name="sentiero_session_events"),
        ]

    def __str__(self) -> str:
        return self.session_id


class RecordedWindow(models.Model):
    session = models.ForeignKey(RecordedSession, on_delete=models.CASCADE,
                                related_name="windows")
    window_id = models.CharField(max_length=128)
    next_chunk = models.IntegerField(default=0)
    event_count = models.BigIntegerField(default=0)
    first_ms = models.BigIntegerField(null=True)
    last_ms = models.BigIntegerField(null=True)
    state_json = models.TextField(null=True)
    """Ingest's per-window state (the password scrubber's), replaced batch by batch."""

    class Meta:
        db_table = "sentiero_window"
        constraints = [models.UniqueConstraint(fields=["session", "window_id"],
                                               name="sentiero_window_unique")]


class RecordedChunk(models.Model):
    window = models.ForeignKey(RecordedWindow, on_delete=models.CASCADE, related_name="chunks")
    index = models.IntegerField()
    seq = models.BigIntegerField(null=True)
    first_ms = models.BigIntegerField()
    last_ms = models.BigIntegerField()
    event_count = models.IntegerField()
    data = models.BinaryField()

    class Meta:
        db_table = "sentiero_chunk"
        constraints = [models.UniqueConstraint(fields=["window", "index"],
                                               name="sentiero_chunk_unique")]


class ReceivedBatch(models.Model):
    """(session, window, seq) of every stored batch: the exactly-once record, outliving the
    chunks ``max_events_per_session`` drops, so a late retry is still recognised."""

    session = models.ForeignKey(RecordedSession, on_delete=models.CASCADE,
                                related_name="batches")
    window_id = models.CharField(max_length=128)
    seq = models.BigIntegerField()

    class Meta:
        db_table = "sentiero_batch"
        constraints = [models.UniqueConstraint(fields=["session", "window_id", "seq"],
                                               name="sentiero_batch_unique")]


class RecordedFact(models.Model):
    session = models.ForeignKey(RecordedSession, on_delete=models.CASCADE,
                                related_name="facts")
    window_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=32)
    ts_ms = models.BigIntegerField()
    url = models.TextField(null=True)
    key = models.TextField(null=True)
    value = models.FloatField(null=True)
    data_json = models.TextField(default="{}")

    class Meta:
        db_table = "sentiero_fact"
        indexes = [
            models.Index(fields=["kind", "ts_ms"], name="sentiero_fact_kind_ts"),
            models.Index(fields=["ts_ms"], name="sentiero_fact_ts"),
            models.Index(fields=["session", "ts_ms"], name="sentiero_fact_session_ts"),
        ]


# --- server-side error tracking (store.py's DjangoTracking; stores/tracking.py has the contract)


class TrackedProblem(models.Model):
    """A problem: occurrences sharing a fingerprint, with its counts and status."""

    problem_id = models.CharField(max_length=128, primary_key=True)
    project = models.CharField(max_length=128)
    exception_class = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    message = models.TextField()
    count = models.BigIntegerField()
    status = models.CharField(max_length=16)
    first_seen_ms = models.BigIntegerField()
    last_seen_ms = models.BigIntegerField()
    resolved_at_ms = models.BigIntegerField(null=True)
    platform = models.CharField(max_length=32, null=True)

    class Meta:
        db_table = "sentiero_problem"
        indexes = [
            models.Index(fields=["-last_seen_ms", "problem_id"], name="sentiero_problem_last"),
            models.Index(fields=["-first_seen_ms", "problem_id"], name="sentiero_problem_first"),
            models.Index(fields=["-count", "problem_id"], name="sentiero_problem_count"),
            models.Index(fields=["status", "-last_seen_ms"], name="sentiero_problem_status"),
        ]


class TrackedOccurrence(models.Model):
    """One reported exception, as JSON beside the columns the lists filter on. The session
    is a plain column (an occurrence may name a session that is not, or no longer, stored)."""

    occurrence_id = models.CharField(max_length=128, primary_key=True)
    problem = models.ForeignKey(TrackedProblem, on_delete=models.CASCADE,
                                related_name="occurrences")
    session_id = models.CharField(max_length=128, null=True)
    window_id = models.CharField(max_length=128, null=True)
    ts_ms = models.BigIntegerField()
    data_json = models.TextField()

    class Meta:
        db_table = "sentiero_occurrence"
        indexes = [
            models.Index(fields=["problem", "ts_ms"], name="sentiero_occurrence_problem"),
            models.Index(fields=["session_id"], name="sentiero_occurrence_session"),
            models.Index(fields=["ts_ms"], name="sentiero_occurrence_ts"),
        ]


class TrackedServerEvent(models.Model):
    """One ``track()`` call, as JSON beside the columns the log filters on."""

    event_id = models.CharField(max_length=128, primary_key=True)
    project = models.CharField(max_length=128)
    name = models.CharField(max_length=200)
    level = models.CharField(max_length=8)
    session_id = models.CharField(max_length=128, null=True)
    ts_ms = models.BigIntegerField()
    data_json = models.TextField()

    class Meta:
        db_table = "sentiero_server_event"
        indexes = [
            models.Index(fields=["-ts_ms", "event_id"], name="sentiero_server_event_ts"),
            models.Index(fields=["session_id"], name="sentiero_server_event_session"),
        ]


class TrackingIngestKey(models.Model):
    """An ingest key's public id and the SHA-256 hash of its secret (never the secret)."""

    key_id = models.CharField(max_length=128, primary_key=True)
    project = models.CharField(max_length=128)
    secret_hash = models.CharField(max_length=64)
    created_ms = models.BigIntegerField()
    revoked_ms = models.BigIntegerField(null=True)

    class Meta:
        db_table = "sentiero_ingest_key"


# --- saved funnels (store.py's save_funnel / list_funnels / delete_funnel; migration 0003)


class StoredFunnel(models.Model):
    """A saved funnel: its ``SavedFunnel.to_json`` document, as every store keeps it."""

    funnel_id = models.CharField(max_length=32, primary_key=True)
    created_us = models.BigIntegerField()
    data_json = models.TextField()

    class Meta:
        db_table = "sentiero_funnel"
