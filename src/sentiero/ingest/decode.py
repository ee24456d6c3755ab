"""Turn a raw request body into a JSON object, within hard size limits.

The body is read with a cap of ``limit + 1`` bytes so an oversized upload is detected without
buffering it, and gzip is inflated through a bounded ``decompressobj`` so a small compressed
body can never expand past its own bound + 1 bytes in memory (gzip-bomb guard). The two
bounds are separate settings (``max_body_bytes``, ``max_decompressed_bytes``). Every failure is an
:class:`IngestError` whose status and message are the wire protocol's (inventory §1.3).
"""

from __future__ import annotations

import zlib
from typing import IO, Any

import orjson

GZIP_MAGIC = b"\x1f\x8b"
_READ_BLOCK = 65_536


class IngestError(Exception):
    """A refused request: ``status`` and ``message`` become ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


BODY_TOO_LARGE = "request body too large"
INVALID_GZIP = "invalid gzip encoding"
INVALID_JSON = "invalid JSON body"
NOT_AN_OBJECT = "body must be a JSON object"
BODY_UNREADABLE = "the request body could not be read (bad chunked framing or a cut connection)"
UNSUPPORTED_ENCODING = "unsupported Content-Encoding: send gzip or no Content-Encoding"
KNOWN_ENCODINGS = frozenset(("", "identity", "gzip", "x-gzip"))


def check_encoding(content_encoding: str | None) -> None:
    """415 for a Content-Encoding we cannot read (``br``, ``deflate``, a list of several):
    reading such a body as plain JSON would only fail later with a misleading message."""
    if content_encoding is not None and content_encoding.strip().lower() not in KNOWN_ENCODINGS:
        raise IngestError(415, UNSUPPORTED_ENCODING)


def read_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes; 413 when the body is longer than ``limit``."""
    chunks: list[bytes] = []
    remaining = limit + 1
    while remaining > 0:
        try:
            block = stream.read(min(remaining, _READ_BLOCK))
        except Exception as exc:  # the server's body parser or the socket: the client's doing
            raise IngestError(400, BODY_UNREADABLE) from exc
        if not block:
            break
        chunks.append(block)
        remaining -= len(block)
    body = b"".join(chunks)
    if len(body) > limit:
        raise IngestError(413, BODY_TOO_LARGE)
    return body


def is_gzip(body: bytes, content_encoding: str | None) -> bool:
    """Gzip when declared (any case) or when the body starts with the gzip magic bytes, which
    is how the recorder's unload beacon sends it (text/plain, no Content-Encoding)."""
    if content_encoding and content_encoding.strip().lower() in ("gzip", "x-gzip"):
        return True
    return body[:2] == GZIP_MAGIC


def gunzip_limited(body: bytes, limit: int) -> bytes:
    """Inflate a gzip member, never producing more than ``limit + 1`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit:
            raise IngestError(413, BODY_TOO_LARGE)
        if not inflater.eof:
            # Either truncated input, or output stopped at the cap with input still pending.
            if inflater.unconsumed_tail:
                raise IngestError(413, BODY_TOO_LARGE)
            raise IngestError(400, INVALID_GZIP)
    except zlib.error as exc:
        raise IngestError(400, INVALID_GZIP) from exc
    return out


def parse_json_object(data: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise IngestError(400, INVALID_JSON) from exc
    if not isinstance(value, dict):
        raise IngestError(400, NOT_AN_OBJECT)
    return value


def decode_body(
    stream: IO[bytes],
    content_encoding: str | None,
    limit: int,
    decompressed_limit: int | None = None,
) -> dict[str, Any]:
    """Read, (maybe) inflate and parse a request body into a JSON object.

    ``limit`` bounds the body as sent; ``decompressed_limit`` (default: ``limit``) bounds what
    a gzip body inflates to, which may be larger: snapshots compress about tenfold.
    """
    check_encoding(content_encoding)
    body = read_limited(stream, limit)
    if is_gzip(body, content_encoding):
        body = gunzip_limited(body, limit if decompressed_limit is None else decompressed_limit)
    return parse_json_object(body)
