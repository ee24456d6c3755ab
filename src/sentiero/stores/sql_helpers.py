"""What the SQL store's modules share: the microsecond clock columns, the page size of
``IN (...)`` lists and scans, the two exceptions a write transaction raises to its runner
(``SQLStore._run`` / ``_commit_group``), and min/max that treat None as "no value yet"."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_PAGE = 500  # ids per IN (...) and rows per page when scanning


class _Duplicate(Exception):
    """The batch's (session, window, seq) is already stored: roll back, store nothing."""


class _Retry(Exception):
    """A race left the transaction without the row it needs (e.g. the session was deleted
    between our insert and our lock): run the transaction again."""


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _US


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
