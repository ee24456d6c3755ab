"""The events API's body on the wire: stored chunks sent as compressed as they are stored.

A stored chunk is one zstandard frame holding a JSON array of events, and concatenated zstd
frames decode to the concatenation of their contents. So with ``layout=chunks`` the answer
``{"chunks":[<chunk>,<chunk>...],"next_cursor":N}`` is the stored frames themselves with tiny
frames for the JSON around them, sent as ``Content-Encoding: zstd``: no decompression, no
JSON parsing, bytes on the wire about the bytes stored.

Otherwise the JSON is stitched from the decompressed chunks (never parsed) and compressed fast
for the wire: zstd when accepted, else gzip, else sent plain. The flat ``layout=events``
(``{"events":[...]}``) always takes this path, as does a chunk the browser could not decode
as it is stored (a dictionary, or a window larger than browsers accept).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import zstandard
from werkzeug.wrappers import Request

from sentiero.stores.base import Chunk

LAYOUTS = ("events", "chunks")
# ``wire=zstd``: the same zstd body without Content-Encoding (application/zstd), decoded by
# the client itself (the replay player's worker), whatever Accept-Encoding says.
WIRE_ZSTD = "zstd"
# Browsers decode zstd frames with windows up to 8 MiB (RFC 9659 section 3).
BROWSER_MAX_WINDOW = 8 * 1024 * 1024
# Re-encoding is on the request path: the fastest levels, the ratio comes from the data.
WIRE_ZSTD_LEVEL = 1
WIRE_GZIP_LEVEL = 1


def accepted_encoding(request: Request) -> str | None:
    """``zstd``, ``gzip`` or None (plain), the first the request's Accept-Encoding allows."""
    accept = request.accept_encodings
    for encoding in ("zstd", "gzip"):
        if accept.quality(encoding) > 0:
            return encoding
    return None


def _content_size(data: bytes) -> int:
    """The decoded size a frame's header states, 0 when it states none (or is no frame)."""
    try:
        return int(zstandard.get_frame_parameters(data).content_size)
    except zstandard.ZstdError:
        return 0


def browser_decodable(data: bytes) -> bool:
    """Whether a stored chunk is one zstd frame a browser decodes as it is."""
    try:
        params = zstandard.get_frame_parameters(data)
    except zstandard.ZstdError:
        return False
    return params.dict_id == 0 and params.window_size <= BROWSER_MAX_WINDOW


def _frame(text: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=WIRE_ZSTD_LEVEL).compress(text)


def _tail(next_cursor: int | None) -> bytes:
    cursor = b"null" if next_cursor is None else str(next_cursor).encode()
    return b'],"next_cursor":' + cursor + b"}"


def plain_body(chunks: Sequence[Chunk], next_cursor: int | None, layout: str) -> bytes:
    """The JSON answer, stitched from the chunks' JSON text without parsing it."""
    if layout == "chunks":
        parts = [chunk.events_json().strip() for chunk in chunks]
        return b'{"chunks":[' + b",".join(parts) + _tail(next_cursor)
    inner = (chunk.events_json().strip()[1:-1].strip() for chunk in chunks)
    return b'{"events":[' + b",".join(p for p in inner if p) + _tail(next_cursor)


def events_body(chunks: Sequence[Chunk], next_cursor: int | None, layout: str,
                encoding: str | None) -> tuple[bytes, str | None]:
    """(body, Content-Encoding or None) for the events of ``chunks``."""
    if layout == "chunks" and encoding == "zstd" and all(browser_decodable(c.data) for c in chunks):
        frames = [_frame(b'{"chunks":[')]
        for position, chunk in enumerate(chunks):
            if position:
                frames.append(_frame(b","))
            frames.append(chunk.data)
        frames.append(_frame(_tail(next_cursor)))
        return b"".join(frames), "zstd"
    body = plain_body(chunks, next_cursor, layout)
    if encoding == "zstd":
        return zstandard.ZstdCompressor(level=WIRE_ZSTD_LEVEL).compress(body), "zstd"
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=WIRE_GZIP_LEVEL, mtime=0), "gzip"
    return body, None


def zstd_body(chunks: Sequence[Chunk], next_cursor: int | None, layout: str) -> tuple[bytes, int]:
    """(zstd body, length of the JSON it decodes to) for a client that decodes the body itself
    (``wire=zstd``): the stored frames when each states its decoded size, else the stitched JSON
    compressed at the wire level."""
    sizes = [_content_size(c.data) for c in chunks]
    if layout == "chunks" and chunks and all(sizes) and all(browser_decodable(c.data)
                                                            for c in chunks):
        body, _ = events_body(chunks, next_cursor, layout, "zstd")
        glue = len(b'{"chunks":[') + len(chunks) - 1 + len(_tail(next_cursor))
        return body, sum(sizes) + glue
    plain = plain_body(chunks, next_cursor, layout)
    return zstandard.ZstdCompressor(level=WIRE_ZSTD_LEVEL).compress(plain), len(plain)
