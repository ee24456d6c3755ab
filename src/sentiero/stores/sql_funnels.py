"""Saved funnels in SQL: the ``<prefix>funnels`` table (migration step 7) and the store's
methods over it, one row per funnel holding its JSON document."""

from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sentiero.stores.base import StoreError
from sentiero.stores.saved_funnels import MAX_SAVED, SavedFunnel, sorted_funnels

if TYPE_CHECKING:
    from sentiero.stores.sql_schema import Tables


def funnels_table(prefix: str) -> sa.Table:
    from sentiero.stores.sql_schema import BigInt, Id

    return sa.Table(
        f"{prefix}funnels", sa.MetaData(),
        sa.Column("funnel_id", Id, primary_key=True),
        sa.Column("created_us", BigInt, nullable=False),
        sa.Column("data_json", sa.Text, nullable=False),
    )


def create_funnels_table(conn: Connection, t: Tables) -> None:
    """Migration step 7."""
    funnels_table(t.prefix).create(conn, checkfirst=True)


class SQLSavedFunnels:
    """Mixed into SQLStore (which provides ``tables`` and ``_run``)."""

    tables: Tables
    _run: Any

    @property
    def _funnels(self) -> sa.Table:
        table = getattr(self, "_funnels_table", None)
        if table is None:
            table = funnels_table(self.tables.prefix)
            self._funnels_table = table
        return table

    def save_funnel(self, funnel: SavedFunnel) -> None:
        f = self._funnels
        created = int(funnel.created_at.astimezone(timezone.utc).timestamp() * 1_000_000)

        def work(conn: Connection) -> None:
            exists = conn.execute(sa.select(f.c.funnel_id).where(
                f.c.funnel_id == funnel.funnel_id)).first()
            if exists:
                conn.execute(f.update().where(f.c.funnel_id == funnel.funnel_id).values(
                    data_json=funnel.to_json().decode()))
                return
            if conn.execute(sa.select(sa.func.count()).select_from(f)).scalar_one() >= MAX_SAVED:
                raise StoreError(f"at most {MAX_SAVED} saved funnels")
            conn.execute(f.insert().values(funnel_id=funnel.funnel_id, created_us=created,
                                           data_json=funnel.to_json().decode()))

        self._run(work)

    def list_funnels(self) -> list[SavedFunnel]:
        f = self._funnels

        def work(conn: Connection) -> list[SavedFunnel]:
            rows = conn.execute(sa.select(f.c.data_json)).scalars().all()
            return sorted_funnels([SavedFunnel.from_json(r) for r in rows])

        return self._run(work, write=False)

    def delete_funnel(self, funnel_id: str) -> bool:
        f = self._funnels

        def work(conn: Connection) -> bool:
            return conn.execute(f.delete().where(f.c.funnel_id == funnel_id)).rowcount > 0

        return self._run(work)
