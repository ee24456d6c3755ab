"""How compacted chunks are compressed, and how any stored chunk is read back.

Ingest writes each batch as one zstandard frame at a fast level (``base.encode_events``).
Compaction rewrites a run of them as one frame (``encode_compacted``):

* a large run (``DICTIONARY_BELOW`` raw bytes or more) at a high level with a window up to
  8 MiB, the most a browser's zstd decoder accepts, so the replay API still sends it as
  stored (``web/replay_transfer``);
* a small one with a dictionary trained on rrweb events (``dictionaries/rrweb-1.zdict``,
  built by ``scripts/train_chunk_dictionary.py``): JSON keys and node shapes cost nothing, which
  is most of a small window's bytes. Browsers cannot use our dictionary, so the replay API
  decompresses these and compresses them again for the wire: cheap, they are small.

A frame names its dictionary by id, so a shipped dictionary is never replaced, only added to.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import zstandard

DICTIONARIES = Path(__file__).with_name("dictionaries")
DICTIONARY_FILES = ("rrweb-1.zdict",)
DICTIONARY_BELOW = 1 << 20
COMPACT_LEVEL = 19
COMPACT_WINDOW_LOG = 23  # 8 MiB: RFC 9659's limit for browsers


@cache
def _dictionaries() -> dict[int, zstandard.ZstdCompressionDict]:
    out = {}
    for name in DICTIONARY_FILES:
        dictionary = zstandard.ZstdCompressionDict((DICTIONARIES / name).read_bytes())
        out[dictionary.dict_id()] = dictionary
    return out


def current_dictionary() -> zstandard.ZstdCompressionDict:
    return _dictionaries()[max(_dictionaries())]


def decompress(blob: bytes) -> bytes:
    """A stored chunk's JSON text, whichever way it was compressed."""
    try:
        dict_id = zstandard.get_frame_parameters(blob).dict_id
    except zstandard.ZstdError:
        dict_id = 0
    if dict_id:
        dictionary = _dictionaries().get(dict_id)
        if dictionary is None:
            raise ValueError(f"chunk compressed with unknown dictionary {dict_id}")
        return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(blob)
    return zstandard.ZstdDecompressor().decompress(blob)


def gains_from_dictionary(blob: bytes, raw_length: int) -> bool:
    """A stored chunk small enough for the dictionary and not compressed with one yet: a
    window of one batch, or the last batch of a run (ingest's fast frames carry no dictionary,
    compaction's small frames always do, so a chunk is recompressed at most once)."""
    if raw_length >= DICTIONARY_BELOW:
        return False
    try:
        return zstandard.get_frame_parameters(blob).dict_id == 0
    except zstandard.ZstdError:
        return False


def encode_compacted(text: bytes) -> bytes:
    """One frame for a compacted run's JSON array (``text``)."""
    if len(text) < DICTIONARY_BELOW:
        compressor = zstandard.ZstdCompressor(level=COMPACT_LEVEL, dict_data=current_dictionary())
        return compressor.compress(text)
    params = zstandard.ZstdCompressionParameters.from_level(
        COMPACT_LEVEL, window_log=COMPACT_WINDOW_LOG, source_size=len(text))
    return zstandard.ZstdCompressor(compression_params=params).compress(text)
