"""What scanning recorded page content costs at ingest (``RedactionConfig.scan_dom``).

Runs the ingest pipeline (validation, scrubbing + DOM redaction in one walk, event redaction,
facts: ``sentiero.ingest.pipeline.build_batch``) over every fixture recording, whole windows as
one batch each, with ``scan_dom`` off and on, interleaved, on fresh copies of the events. The
mutation-heavy ``dashboard-a`` (a 300-row table re-rendered every 500 ms, 10 MB of mutations,
about 40,000 text nodes) is the worst case.

    python benchmarks/dom_scan.py            # 7 rounds
    python benchmarks/dom_scan.py --rounds 3
"""

from __future__ import annotations

import argparse
import copy
import gzip
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "rrweb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from sentiero.ingest.pipeline import build_batch
    from sentiero.privacy.redaction import RedactionConfig
    from sentiero.settings import Settings

    variants = {scan: Settings(redaction=RedactionConfig(scan_dom=scan)) for scan in (False, True)}
    print(f"{'fixture':<16}{'events':>8}{'MB':>7}{'scan off ms':>13}{'scan on ms':>12}"
          f"{'extra ms':>10}{'extra':>8}")
    for path in sorted(FIXTURES.glob("*.json.gz")):
        recording = orjson.loads(gzip.decompress(path.read_bytes()))
        windows = recording["windows"]
        size = sum(len(orjson.dumps(w["events"])) for w in windows) / 1e6
        count = sum(len(w["events"]) for w in windows)
        best = {False: float("inf"), True: float("inf")}
        for _ in range(args.rounds):
            for scan, settings in variants.items():
                payloads = [{"sessionId": recording["session_id"], "windowId": w["window_id"],
                             "events": copy.deepcopy(w["events"])} for w in windows]
                started = time.perf_counter()
                for payload in payloads:
                    build_batch(payload, settings, None)
                best[scan] = min(best[scan], time.perf_counter() - started)
        off, on = best[False] * 1000, best[True] * 1000
        print(f"{path.name.removesuffix('.json.gz'):<16}{count:>8}{size:>7.2f}{off:>13.1f}"
              f"{on:>12.1f}{on - off:>10.1f}{(on - off) / off:>8.0%}")


if __name__ == "__main__":
    main()
