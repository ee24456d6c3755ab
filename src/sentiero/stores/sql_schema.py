"""The SQL store's tables and the numbered migration steps that create them.

A database records the steps applied in ``<prefix>schema`` (one row per version). Steps are
applied in version order, each in its own transaction (MySQL/MariaDB commit DDL implicitly, so every
step is also written to be safe to re-run after a crash). Never edit a released step: add a
new one, and bump nothing else: ``LATEST_VERSION`` is the highest in the list.

Times are integers: ``*_us`` epoch microseconds (UTC) for server times, ``*_ms`` epoch
milliseconds for rrweb event times. Integers sort and index the same on every database and
round-trip exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, CreateTable

_MYSQL = ("mysql", "mariadb")
DAY_MS = 86_400_000

# Ids are ASCII ([A-Za-z0-9_-]): on MySQL keep them out of the case-insensitive default
# collation (so "Ab" and "ab" are different sessions) and at 1 byte per character in indexes.
Id = sa.String(128).with_variant(
    mysql.VARCHAR(128, charset="ascii", collation="ascii_bin"), *_MYSQL
)
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # sqlite: INTEGER PK is rowid
Blob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL)
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(charset="utf8mb4"), *_MYSQL)
FactKey = sa.String(200).with_variant(mysql.VARCHAR(200, charset="utf8mb4",
                                                   collation="utf8mb4_bin"), *_MYSQL)
CLICK_COLUMNS = ("click_x", "click_y", "click_vw", "click_vh", "click_pv")


def click_columns() -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger if name == "click_pv" else sa.Double, nullable=True)
            for name in CLICK_COLUMNS]


# step 14: a form fact's page view and input moments (sentiero.stores.sql_forms
# .form_values), so the forms analysis groups them in SQL instead of reading each fact's JSON
FORM_COLUMNS = ("form_pv", "form_first_ms", "form_last_ms")


def form_columns() -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger, nullable=True) for name in FORM_COLUMNS]


# step 8: a session's engagement signals (sentiero.analytics.engagement.Signals attributes
# after the ``eng_`` prefix) and its score, kept at ingest by sentiero.stores.sql_engagement
ENGAGEMENT_COLUMNS = ("eng_rage", "eng_dead", "eng_churn", "eng_pages", "eng_idle_ms",
                      "eng_thrash", "eng_refills", "eng_last_error_ms", "eng_score")


def signal_columns() -> list[sa.Column]:
    return [sa.Column(name, sa.Float if name == "eng_idle_ms" else sa.BigInteger, nullable=True)
            for name in ENGAGEMENT_COLUMNS]


TRAIT_COLUMNS = (("browser", 16), ("device", 16), ("os", 16), ("country", 8),
                 ("utm_source", 200), ("utm_medium", 200), ("utm_campaign", 200))


@dataclass(frozen=True)
class Tables:
    prefix: str
    metadata: sa.MetaData
    schema: sa.Table
    sessions: sa.Table
    windows: sa.Table
    chunks: sa.Table
    batches: sa.Table
    facts: sa.Table
    # indexes created by later steps (kept off the tables so step 1 does not create them)
    sort_indexes: tuple[sa.Index, ...]
    tracking: TrackingTables
    analytics_indexes: tuple[sa.Index, ...] = ()
    read_indexes: tuple[sa.Index, ...] = ()  # step 9
    count_indexes: tuple[sa.Index, ...] = ()  # step 10
    engagement_seen: sa.Table | None = None  # step 12 (always built by build_tables)
    click_indexes: tuple[sa.Index, ...] = ()  # step 11
    day_versions: sa.Table | None = None  # step 13 (always built by build_tables)
    day_cache: sa.Table | None = None  # step 13
    span_indexes: tuple[sa.Index, ...] = ()  # step 13
    form_indexes: tuple[sa.Index, ...] = ()  # step 14

    @property
    def seen(self) -> sa.Table:
        assert self.engagement_seen is not None
        return self.engagement_seen


@dataclass(frozen=True)
class TrackingTables:
    """Step 6: server-side error tracking (stores/sql_tracking.py)."""

    problems: sa.Table
    occurrences: sa.Table
    server_events: sa.Table
    ingest_keys: sa.Table

    @property
    def all(self) -> tuple[sa.Table, ...]:
        """Children first: the order to delete or drop them in."""
        return (self.occurrences, self.problems, self.server_events, self.ingest_keys)


def build_tracking_tables(md: sa.MetaData, p: str) -> TrackingTables:
    problems = sa.Table(
        f"{p}problems",
        md,
        sa.Column("problem_id", Id, primary_key=True),
        sa.Column("project", Id, nullable=False),
        sa.Column("exception_class", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("message", LongText, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("resolved_at_ms", sa.BigInteger),
        sa.Column("platform", sa.String(32)),
    )
    sa.Index(f"{p}problems_last_seen", problems.c.last_seen_ms.desc(), problems.c.problem_id)
    sa.Index(f"{p}problems_first_seen", problems.c.first_seen_ms.desc(), problems.c.problem_id)
    sa.Index(f"{p}problems_count", problems.c.count.desc(), problems.c.problem_id)
    sa.Index(f"{p}problems_status", problems.c.status, problems.c.last_seen_ms.desc())
    occurrences = sa.Table(
        f"{p}occurrences",
        md,
        sa.Column("occurrence_id", Id, primary_key=True),
        sa.Column(
            "problem_id",
            Id,
            sa.ForeignKey(problems.c.problem_id, ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("session_id", Id),
        sa.Column("window_id", Id),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("data_json", LongText, nullable=False),
    )
    sa.Index(f"{p}occurrences_problem", occurrences.c.problem_id, occurrences.c.ts_ms)
    sa.Index(f"{p}occurrences_session", occurrences.c.session_id)
    sa.Index(f"{p}occurrences_ts", occurrences.c.ts_ms)
    server_events = sa.Table(
        f"{p}server_events",
        md,
        sa.Column("event_id", Id, primary_key=True),
        sa.Column("project", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("session_id", Id),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("data_json", LongText, nullable=False),
    )
    sa.Index(f"{p}server_events_ts", server_events.c.ts_ms.desc(), server_events.c.event_id)
    sa.Index(f"{p}server_events_session", server_events.c.session_id)
    ingest_keys = sa.Table(
        f"{p}ingest_keys",
        md,
        sa.Column("key_id", Id, primary_key=True),
        sa.Column("project", Id, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked_ms", sa.BigInteger),
    )
    return TrackingTables(problems, occurrences, server_events, ingest_keys)


def build_tables(prefix: str = "sentiero_") -> Tables:
    md = sa.MetaData()
    p = prefix

    schema = sa.Table(
        f"{p}schema",
        md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("applied_us", sa.BigInteger, nullable=False),
    )
    sessions = sa.Table(
        f"{p}sessions",
        md,
        sa.Column("session_id", Id, primary_key=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("first_ms", sa.BigInteger),
        sa.Column("last_ms", sa.BigInteger),
        sa.Column("event_count", sa.BigInteger, nullable=False, default=0),
        sa.Column("metadata_json", LongText, nullable=False, default="{}"),
        sa.Column("user_agent", sa.Text),
        sa.Column("last_url", sa.Text),
        sa.Column("last_url_ms", sa.BigInteger),
        sa.Column("has_errors", sa.Boolean, nullable=False, default=False),
        # step 5: session traits (sentiero.analytics.traits), kept current at ingest
        *(sa.Column(name, sa.String(length), nullable=True) for name, length in TRAIT_COLUMNS),
        sa.Column("entry_url", sa.Text, nullable=True),
        sa.Column("referrer", sa.Text, nullable=True),
        # step 8: engagement signals and score (sentiero.stores.sql_engagement)
        *signal_columns(),
        # step 13: the session's events fall on more than one UTC day (first_ms and last_ms
        # on different days), kept at ingest; the day cache (sql_day_cache.py) counts these
        # sessions live and caches the rest per day
        sa.Column("multi_day", sa.Boolean, nullable=True),
    )
    # the default list order: updated_at desc, ties by id
    sa.Index(f"{p}sessions_updated", sessions.c.updated_us.desc(), sessions.c.session_id)
    windows = sa.Table(
        f"{p}windows",
        md,
        sa.Column(
            "session_id",
            Id,
            sa.ForeignKey(sessions.c.session_id, ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("window_id", Id, primary_key=True),
        sa.Column("next_chunk", sa.Integer, nullable=False),
        sa.Column("event_count", sa.BigInteger, nullable=False),
        sa.Column("first_ms", sa.BigInteger),
        sa.Column("last_ms", sa.BigInteger),
        # step 4: ingest's per-window state (the password scrubber's), JSON
        sa.Column("state_json", LongText, nullable=True),
    )
    chunks = sa.Table(
        f"{p}chunks",
        md,
        sa.Column("session_id", Id, primary_key=True),
        sa.Column("window_id", Id, primary_key=True),
        sa.Column("chunk_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger),
        sa.Column("first_ms", sa.BigInteger, nullable=False),
        sa.Column("last_ms", sa.BigInteger, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("data", Blob, nullable=False),  # last: row scans never touch it
        sa.ForeignKeyConstraint(
            ["session_id", "window_id"],
            [windows.c.session_id, windows.c.window_id],
            ondelete="CASCADE",
            name=f"{p}chunks_window_fk",
        ),
    )
    # Dedup records: (session, window, seq) of every stored batch. Their own table, not a
    # unique key on chunks, so they outlive chunks dropped by max_events_per_session and a
    # late retry of a dropped batch is still recognised.
    batches = sa.Table(
        f"{p}batches",
        md,
        sa.Column(
            "session_id",
            Id,
            sa.ForeignKey(sessions.c.session_id, ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("window_id", Id, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    )
    facts = sa.Table(
        f"{p}facts",
        md,
        sa.Column("id", BigInt, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "session_id",
            Id,
            sa.ForeignKey(sessions.c.session_id, ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("window_id", Id, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("data_json", sa.Text, nullable=False),
        # step 5: the fact's group key and measure (docs/CONTRACTS.md "Facts")
        sa.Column("key", FactKey, nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        # step 11: a click's geometry (sentiero.analytics.clicks.geometry), NULL for other
        # facts and for clicks the heatmap cannot place
        *click_columns(),
        # step 14: a form fact's page view and input moments, NULL for other facts
        *form_columns(),
    )
    sa.Index(f"{p}facts_kind_ts", facts.c.kind, facts.c.ts_ms)
    sa.Index(f"{p}facts_ts", facts.c.ts_ms)
    sa.Index(f"{p}facts_session", facts.c.session_id, facts.c.window_id)
    # step 12: the pages and form fields a session has already seen, one 64-bit digest each
    # (sentiero.stores.sql_engagement): a batch's revisits and refills are counted against
    # these rows instead of every page view and field of the session
    engagement_seen = sa.Table(
        f"{p}engagement_seen",
        md,
        sa.Column(
            "session_id",
            Id,
            sa.ForeignKey(sessions.c.session_id, ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("item", sa.BigInteger, primary_key=True, autoincrement=False),
    )

    # step 3: the other list sorts and the retention scan, index-backed
    sort_md = sa.MetaData()
    shadow = sessions.to_metadata(sort_md)
    sort_indexes = (
        sa.Index(f"{p}sessions_created", shadow.c.created_us.desc(), shadow.c.session_id),
        sa.Index(f"{p}sessions_events", shadow.c.event_count.desc(), shadow.c.session_id),
        sa.Index(f"{p}sessions_errors", shadow.c.has_errors, shadow.c.updated_us.desc()),
    )
    # step 5: analytics reads facts by kind and key, and sessions by last activity with traits
    facts_shadow = facts.to_metadata(sort_md)
    analytics_indexes = (
        sa.Index(f"{p}facts_kind_key", facts_shadow.c.kind, facts_shadow.c.key),
        sa.Index(f"{p}sessions_traits", shadow.c.updated_us, shadow.c.browser,
                 shadow.c.device, shadow.c.country),
    )
    # step 9: analytics reads by index alone: events per day (the chunks' rows hold their
    # blobs, so a table scan reads every page) and one page's facts of a kind
    chunks_shadow = chunks.to_metadata(sort_md)
    read_indexes = (
        sa.Index(f"{p}chunks_activity", chunks_shadow.c.first_ms, chunks_shadow.c.session_id,
                 chunks_shadow.c.event_count),
        sa.Index(f"{p}facts_kind_url", facts_shadow.c.kind, facts_shadow.c.url,
                 facts_shadow.c.ts_ms, mysql_length={"url": 255}),
    )
    # step 10: facts counted by page and key from the index alone (it holds every column
    # fact_counts reads), in page and key order so grouping needs no sort; it replaces step
    # 9's facts_kind_url, which it covers
    count_indexes = (
        sa.Index(f"{p}facts_counts", facts_shadow.c.kind, facts_shadow.c.url,
                 facts_shadow.c.key, facts_shadow.c.ts_ms, facts_shadow.c.session_id,
                 facts_shadow.c.value, mysql_length={"url": 255}),
    )
    # step 11: the heatmap counts one page's clicks from the index alone (every column
    # click_cells and click_spot read); only clicks where partial indexes exist. And step
    # 10's facts_counts gets the window id, so funnels read their steps' facts from it alone
    placed = facts_shadow.c.click_vw.is_not(None)
    click_indexes = (
        sa.Index(f"{p}facts_reads", facts_shadow.c.kind, facts_shadow.c.url,
                 facts_shadow.c.key, facts_shadow.c.ts_ms, facts_shadow.c.session_id,
                 facts_shadow.c.value, facts_shadow.c.window_id, mysql_length={"url": 255}),
        sa.Index(f"{p}facts_clicks", facts_shadow.c.url, facts_shadow.c.ts_ms,
                 facts_shadow.c.click_vw, facts_shadow.c.click_x, facts_shadow.c.click_y,
                 facts_shadow.c.session_id, facts_shadow.c.window_id, facts_shadow.c.click_pv,
                 facts_shadow.c.click_vh, facts_shadow.c.key, mysql_length={"url": 255},
                 sqlite_where=placed, postgresql_where=placed),
    )
    # step 13: the day cache (sentiero.stores.sql_day_cache): each UTC day's version, bumped
    # by every write that changes what an analytics query answers for that (closed) day, and
    # the cached answers, each valid while its day's version and the epoch are unchanged
    day_versions = sa.Table(
        f"{p}day_versions",
        md,
        sa.Column("day", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    day_cache = sa.Table(
        f"{p}day_cache",
        md,
        sa.Column("query", sa.String(40), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("payload", LongText, nullable=False),
    )
    sa.Index(f"{p}day_cache_day", day_cache.c.day)
    span_indexes = (
        sa.Index(f"{p}sessions_multi_day", shadow.c.multi_day, shadow.c.session_id),
    )
    # step 14: the forms analysis groups a page's form facts per page view and field from the
    # index alone, in its order (every column sentiero.stores.sql_forms reads); only form
    # facts with a page view where partial indexes exist
    in_a_view = facts_shadow.c.form_pv.is_not(None)
    form_indexes = (
        sa.Index(f"{p}facts_forms", facts_shadow.c.kind, facts_shadow.c.url,
                 facts_shadow.c.session_id, facts_shadow.c.window_id, facts_shadow.c.form_pv,
                 facts_shadow.c.key, facts_shadow.c.ts_ms, facts_shadow.c.form_first_ms,
                 facts_shadow.c.form_last_ms, facts_shadow.c.value, mysql_length={"url": 255},
                 sqlite_where=in_a_view, postgresql_where=in_a_view),
    )
    return Tables(prefix, md, schema, sessions, windows, chunks, batches, facts, sort_indexes,
                  build_tracking_tables(md, p), analytics_indexes, read_indexes, count_indexes,
                  engagement_seen, click_indexes, day_versions, day_cache, span_indexes,
                  form_indexes)


# --- migrations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    upgrade: Callable[[Connection, Tables], None]


def _create_table(conn: Connection, table: sa.Table) -> None:
    conn.execute(CreateTable(table, if_not_exists=True))
    for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
        _create_index(conn, index)


def _create_index(conn: Connection, index: sa.Index) -> None:
    table = index.table
    assert table is not None
    existing = {ix["name"] for ix in sa.inspect(conn).get_indexes(table.name)}
    if index.name not in existing:  # MySQL has no CREATE INDEX IF NOT EXISTS
        conn.execute(CreateIndex(index))


def _step1_replay(conn: Connection, t: Tables) -> None:
    for table in (t.sessions, t.windows, t.chunks, t.batches):
        _create_table(conn, table)


def _step2_facts(conn: Connection, t: Tables) -> None:
    _create_table(conn, t.facts)


def _step3_sort_indexes(conn: Connection, t: Tables) -> None:
    for index in t.sort_indexes:
        _create_index(conn, index)


def _add_column(conn: Connection, table: sa.Table, column: sa.Column) -> None:
    # Databases created by this version already have the column (step 1 creates the tables
    # as they are now); older ones get it here. Checking first also makes a re-run safe.
    existing = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    if column.name in existing:
        return
    quote = conn.dialect.identifier_preparer.quote
    ddl = column.type.compile(dialect=conn.dialect)
    conn.execute(
        sa.text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {ddl} NULL")
    )


def _step4_window_state(conn: Connection, t: Tables) -> None:
    _add_column(conn, t.windows, t.windows.c.state_json)


def _step5_analytics(conn: Connection, t: Tables) -> None:
    for name in ("key", "value"):
        _add_column(conn, t.facts, t.facts.c[name])
    for name in (*(n for n, _ in TRAIT_COLUMNS), "entry_url", "referrer"):
        _add_column(conn, t.sessions, t.sessions.c[name])
    for index in t.analytics_indexes:
        _create_index(conn, index)


def _step6_tracking(conn: Connection, t: Tables) -> None:
    for table in (t.tracking.problems, t.tracking.occurrences, t.tracking.server_events,
                  t.tracking.ingest_keys):
        _create_table(conn, table)


def _step7_saved_funnels(conn: Connection, t: Tables) -> None:
    from sentiero.stores.sql_funnels import create_funnels_table

    create_funnels_table(conn, t)


def _step8_engagement(conn: Connection, t: Tables) -> None:
    from sentiero.stores.sql_engagement import backfill

    for column in signal_columns():
        _add_column(conn, t.sessions, t.sessions.c[column.name])
    backfill(conn, t)


def _step9_read_indexes(conn: Connection, t: Tables) -> None:
    for index in t.read_indexes:
        _create_index(conn, index)
    # dead clicks now carry "a JS error followed" as their value too (counted in SQL)
    f = t.facts
    conn.execute(sa.update(f).where(f.c.kind == "dead_click", f.c.value.is_(None)).values(
        value=sa.case((f.c.data_json.like('%"error":true%'), 1.0), else_=0.0)))


def _step10_count_indexes(conn: Connection, t: Tables) -> None:
    for index in t.count_indexes:
        _create_index(conn, index)
    replaced = t.read_indexes[1]  # facts_kind_url: facts_counts starts with its columns
    assert replaced.table is not None
    if replaced.name in {ix["name"] for ix in sa.inspect(conn).get_indexes(replaced.table.name)}:
        replaced.drop(conn)


def _step11_click_geometry(conn: Connection, t: Tables, page: int = 5000) -> None:
    from sentiero.stores.sql_clicks import click_values

    for column in click_columns():
        _add_column(conn, t.facts, t.facts.c[column.name])
    f = t.facts
    after = 0
    while True:  # the clicks already stored, by id (re-running redoes the same values)
        rows = conn.execute(sa.select(f.c.id, f.c.data_json)
                            .where(f.c.kind == "click", f.c.id > after)
                            .order_by(f.c.id).limit(page)).all()
        if not rows:
            break
        updates = []
        for fid, data in rows:
            values = click_values("click", orjson.loads(data))
            if values["click_vw"] is not None:
                updates.append({"fid": fid, **values})
        if updates:
            conn.execute(sa.update(f).where(f.c.id == sa.bindparam("fid"))
                         .values({name: sa.bindparam(name) for name in CLICK_COLUMNS}), updates)
        after = rows[-1][0]
    for index in t.click_indexes:
        _create_index(conn, index)
    replaced = t.count_indexes[0]  # facts_counts: facts_reads starts with its columns
    assert replaced.table is not None
    if replaced.name in {ix["name"] for ix in sa.inspect(conn).get_indexes(replaced.table.name)}:
        replaced.drop(conn)


def _step12_engagement_seen(conn: Connection, t: Tables) -> None:
    from sentiero.stores.sql_engagement import backfill_seen

    _create_table(conn, t.seen)
    backfill_seen(conn, t)


def _step13_day_cache(conn: Connection, t: Tables) -> None:
    _add_column(conn, t.sessions, t.sessions.c.multi_day)
    s = t.sessions
    first_day = s.c.first_ms - s.c.first_ms % DAY_MS
    last_day = s.c.last_ms - s.c.last_ms % DAY_MS
    conn.execute(sa.update(s).where(s.c.multi_day.is_(None), s.c.first_ms.is_not(None))
                 .values(multi_day=first_day != last_day))
    for index in t.span_indexes:
        _create_index(conn, index)
    assert t.day_versions is not None and t.day_cache is not None
    _create_table(conn, t.day_versions)
    _create_table(conn, t.day_cache)


def _step14_form_columns(conn: Connection, t: Tables, page: int = 5000) -> None:
    from sentiero.stores.sql_forms import form_values

    for column in form_columns():
        _add_column(conn, t.facts, t.facts.c[column.name])
    f = t.facts
    after = 0
    while True:  # the form facts already stored, by id (re-running redoes the same values)
        rows = conn.execute(sa.select(f.c.id, f.c.kind, f.c.data_json)
                            .where(f.c.kind.in_(("form_field", "form_submit")), f.c.id > after)
                            .order_by(f.c.id).limit(page)).all()
        if not rows:
            break
        updates = [{"fid": fid, **form_values(kind, orjson.loads(data))}
                   for fid, kind, data in rows]
        conn.execute(sa.update(f).where(f.c.id == sa.bindparam("fid"))
                     .values({name: sa.bindparam(name) for name in FORM_COLUMNS}), updates)
        after = rows[-1][0]
    for index in t.form_indexes:
        _create_index(conn, index)


# Steps may be numbered out of order (a number is reserved by the change that brings it, and
# changes land in any order): ``migrate`` applies them by version, and ``setup`` also applies
# a step numbered below one already applied.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sessions, windows, chunks and dedup records", _step1_replay),
    Migration(2, "facts for analytics", _step2_facts),
    Migration(3, "indexes for sorting sessions by created_at and event_count", _step3_sort_indexes),
    Migration(4, "per-window ingest state (password scrubbing across batches)",
              _step4_window_state),
    Migration(5, "fact keys and values, session traits, analytics indexes", _step5_analytics),
    Migration(6, "server-side error tracking: problems, occurrences, server events, ingest keys",
              _step6_tracking),
    Migration(7, "saved funnels", _step7_saved_funnels),
    Migration(8, "engagement signals and score per session, kept at ingest", _step8_engagement),
    Migration(9, "indexes for analytics reads (events per day, one page's facts); dead-click "
                 "values",
              _step9_read_indexes),
    Migration(10, "a covering index for counting facts by page and key", _step10_count_indexes),
    Migration(11, "click geometry on facts (page position, viewport, page view), an index for "
                  "heatmaps, the window id in the counting index", _step11_click_geometry),
    Migration(12, "pages and form fields each session has seen, for incremental engagement",
              _step12_engagement_seen),
    Migration(13, "the day cache: closed days' analytics answers, versioned by every write "
                  "that touches the day; sessions spanning several days marked",
              _step13_day_cache),
    Migration(14, "form facts' page view and input moments as columns and an index, for the "
                  "forms analysis in SQL", _step14_form_columns),
)
LATEST_VERSION = max(m.version for m in MIGRATIONS)
