"""Train the zstandard dictionary compaction uses for small windows (stores/chunk_codec.py).

Trained on the rrweb fixtures that are not measured against it (landing-a, signup-b,
frustration-a), cut into 5-event samples the size of a recorder's small batches. The
dictionary's id is written into every frame compressed with it, so a dictionary, once
shipped, is never replaced: add a new file and keep the old one readable.

    python scripts/train_chunk_dictionary.py src/sentiero/stores/dictionaries/rrweb-1.zdict
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import orjson
import zstandard

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "rrweb"
TRAINING = ("landing-a", "signup-b", "frustration-a")
DICT_ID = 0x5E7_1E01  # ours, outside zstd's reserved ranges (below 32768, at or above 2**31)


def main() -> None:
    samples = []
    for name in TRAINING:
        recording = orjson.loads(gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes()))
        for window in recording["windows"]:
            events = window["events"]
            samples.extend(orjson.dumps(events[i:i + 5]) for i in range(0, len(events), 5))
    dictionary = zstandard.train_dictionary(16384, samples, level=19, dict_id=DICT_ID)
    Path(sys.argv[1]).write_bytes(dictionary.as_bytes())
    print(f"{sys.argv[1]}: {len(dictionary.as_bytes())} bytes, id {dictionary.dict_id()}")


if __name__ == "__main__":
    main()
