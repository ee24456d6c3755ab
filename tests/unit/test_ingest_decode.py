"""Bounded body reading, gzip detection and bounded inflation, JSON object parsing."""

from __future__ import annotations

import gzip
import io
import zlib

import pytest

from sentiero.ingest.decode import (
    IngestError,
    decode_body,
    gunzip_limited,
    is_gzip,
    parse_json_object,
    read_limited,
)

LIMIT = 1024


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        block = super().read(size)
        self.consumed += len(block)
        return block


def refused(exc: pytest.ExceptionInfo[IngestError]) -> tuple[int, str]:
    return exc.value.status, exc.value.message


def test_body_at_the_limit_is_read_whole() -> None:
    assert read_limited(io.BytesIO(b"x" * LIMIT), LIMIT) == b"x" * LIMIT


def test_body_over_the_limit_is_413_and_read_no_further_than_limit_plus_one() -> None:
    stream = CountingStream(b"x" * (LIMIT * 10))
    with pytest.raises(IngestError) as exc:
        read_limited(stream, LIMIT)
    assert refused(exc) == (413, "request body too large")
    assert stream.consumed == LIMIT + 1


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " Gzip ", "x-gzip"])
def test_gzip_by_content_encoding_in_any_case(encoding: str) -> None:
    assert is_gzip(b"{}", encoding)


def test_gzip_by_magic_bytes_without_header() -> None:
    assert is_gzip(gzip.compress(b"{}"), None)
    assert not is_gzip(b"{}", None)
    assert not is_gzip(b"{}", "identity")


def test_gunzip_round_trip() -> None:
    assert gunzip_limited(gzip.compress(b'{"a":1}'), LIMIT) == b'{"a":1}'


def test_gzip_bomb_is_413_without_inflating_past_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with pytest.raises(IngestError) as exc:
        gunzip_limited(bomb, LIMIT)
    assert refused(exc) == (413, "request body too large")


def test_inflated_exactly_at_limit_is_accepted() -> None:
    assert len(gunzip_limited(gzip.compress(b"a" * LIMIT), LIMIT)) == LIMIT


@pytest.mark.parametrize(
    "body",
    [b"\x1f\x8bnot really gzip", gzip.compress(b'{"a":1}')[:-6], b"", zlib.compress(b"{}")],
)
def test_corrupt_or_truncated_gzip_is_400_with_a_generic_message(body: bytes) -> None:
    with pytest.raises(IngestError) as exc:
        gunzip_limited(body, LIMIT)
    assert refused(exc) == (400, "invalid gzip encoding")


@pytest.mark.parametrize("body", [b"", b"{", b"nope", b"\xff\xfe", b'{"a":NaN}'])
def test_invalid_json_is_400(body: bytes) -> None:
    with pytest.raises(IngestError) as exc:
        parse_json_object(body)
    assert refused(exc) == (400, "invalid JSON body")


@pytest.mark.parametrize("body", [b"[]", b"1", b'"s"', b"null", b"true"])
def test_json_that_is_not_an_object_is_400(body: bytes) -> None:
    with pytest.raises(IngestError) as exc:
        parse_json_object(body)
    assert refused(exc) == (400, "body must be a JSON object")


def test_decode_body_plain_and_gzip() -> None:
    assert decode_body(io.BytesIO(b'{"a":1}'), None, LIMIT) == {"a": 1}
    assert decode_body(io.BytesIO(gzip.compress(b'{"a":2}')), None, LIMIT) == {"a": 2}
    assert decode_body(io.BytesIO(gzip.compress(b'{"a":3}')), "gzip", LIMIT) == {"a": 3}


def test_declared_gzip_with_plain_body_is_invalid_gzip() -> None:
    with pytest.raises(IngestError) as exc:
        decode_body(io.BytesIO(b'{"a":1}'), "gzip", LIMIT)
    assert refused(exc) == (400, "invalid gzip encoding")
