"""The write path's statements run on SQLite's driver cursor directly.

SQLAlchemy's work per execution (parameter processing, the compiled cache lookup, the result
object, the events) cost 5-6x the statement itself on SQLite: 36 against 6 microseconds for
the session row's select, and a batch runs ten of them while it holds the database's one
write lock. :class:`Direct` compiles each statement once, with SQLAlchemy, for the store's
dialect, exactly as SQLAlchemy's own execution would (the same column keys), and then runs
the SQL text on the connection's DBAPI cursor with the parameters in order, through the
same bind and result processors. The statements stay SQLAlchemy Core, built once per store
(``SQLStore._statement``); PostgreSQL and MySQL run them through SQLAlchemy as before.

A statement this cannot run exactly (a Python-side default to fill in, an expanding ``IN``
list, RETURNING over many rows) is run through SQLAlchemy.

The driver's errors are raised as SQLAlchemy would raise them (``DBAPIError`` and its
subclasses, wrapping the driver's), without the statement's parameters (they hold the batch),
so the store's runner retries a locked database and turns other failures into ``StoreError``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection


class Rows:
    """The part of SQLAlchemy's ``Result`` the write path uses, over fetched rows."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]

    def scalars(self) -> Iterator[Any]:
        return (row[0] for row in self._rows)


class _Compiled:
    __slots__ = ("sql", "names", "binds", "constants", "row", "results")

    def __init__(self, sql: str, names: Sequence[str], binds: dict[str, Callable[[Any], Any]],
                 constants: dict[str, Any], row: Any,
                 results: list[Callable[[Any], Any] | None] | None) -> None:
        self.sql, self.names, self.binds, self.constants = sql, names, binds, constants
        self.row, self.results = row, results


class Direct:
    """``run(conn, key, build, params)``: the statement ``build()`` (built and compiled once
    under ``key``) with ``params`` (a dict, or a list of dicts for many rows), returning
    :class:`Rows` on SQLite and SQLAlchemy's result elsewhere."""

    def __init__(self, dialect: Any, statement: Callable[[Any, Callable[[], Any]], Any],
                 enabled: bool) -> None:
        self._dialect = dialect
        self._statement = statement
        self._enabled = enabled
        self._compiled: dict[Any, _Compiled | None] = {}
        dbapi = getattr(dialect, "loaded_dbapi", None) if enabled else None
        self._driver_error: type[Exception] = dbapi.Error if dbapi is not None else _NoError

    def run(self, conn: Connection, key: Any, build: Callable[[], Any],
            params: dict[str, Any] | list[dict[str, Any]]) -> Any:
        stmt = self._statement(key, build)
        rows = params if isinstance(params, list) else [params]
        many = isinstance(params, list)
        ckey = (key, many, tuple(sorted(rows[0])))
        if ckey not in self._compiled:
            self._compiled[ckey] = self._compile(stmt, sorted(rows[0]), many)
        compiled = self._compiled[ckey]
        if compiled is None:
            return conn.execute(stmt, params)
        if compiled.constants:  # values the statement holds (``next_chunk + 1``)
            rows = [{**compiled.constants, **p} for p in rows]
        names, binds = compiled.names, compiled.binds
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(compiled.sql, [_values(p, names, binds) for p in rows])
                return Rows([], cursor.rowcount)
            cursor.execute(compiled.sql, _values(rows[0], names, binds))
            if compiled.row is None:
                return Rows([], cursor.rowcount)
            fetched = cursor.fetchall()
            results = compiled.results
            if results is not None:
                fetched = [[v if f is None else f(v) for f, v in zip(results, r, strict=True)]
                           for r in fetched]
            return Rows([compiled.row._make(r) for r in fetched], cursor.rowcount)
        except self._driver_error as error:
            raise exc.DBAPIError.instance(compiled.sql, None, error, self._driver_error,
                                          hide_parameters=True, dialect=self._dialect
                                          ) from error
        finally:
            cursor.close()

    def _compile(self, stmt: Any, keys: list[str], many: bool) -> _Compiled | None:
        if not self._enabled:
            return None
        compiled = stmt.compile(dialect=self._dialect, column_keys=keys,
                                for_executemany=many)
        if (any(getattr(compiled, name, None) for name in (
                "insert_prefetch", "update_prefetch", "literal_execute_params",
                "post_compile_params")) or compiled.positiontup is None
                or (many and compiled.effective_returning)):
            return None  # defaults to compute, expanding IN lists, RETURNING of many rows
        binds: dict[str, Callable[[Any], Any]] = {}
        constants: dict[str, Any] = {}
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if name not in keys:
                if bind.callable is not None or bind.required:
                    return None
                constants[name] = bind.value
            process = bind.type.dialect_impl(self._dialect).bind_processor(self._dialect)
            if process is not None:
                binds[name] = process
        columns = list(stmt.exported_columns) if _returns_rows(stmt, compiled) else []
        row = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
        results = [c.type.dialect_impl(self._dialect).result_processor(self._dialect, None)
                   for c in columns]
        return _Compiled(compiled.string, tuple(compiled.positiontup), binds, constants, row,
                         results if any(f is not None for f in results) else None)


class _NoError(Exception):
    """Caught where no driver is loaded: never raised."""


def _returns_rows(stmt: Any, compiled: Any) -> bool:
    return bool(getattr(stmt, "is_select", False) or compiled.effective_returning)


def _values(params: dict[str, Any], names: Sequence[str],
            binds: dict[str, Callable[[Any], Any]]) -> list[Any]:
    if not binds:
        return [params[n] for n in names]
    return [binds[n](params[n]) if n in binds else params[n] for n in names]
