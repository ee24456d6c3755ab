"""Run every benchmark in turn, each printing its own table.

    python -m benchmarks            # full runs (several minutes)
    python -m benchmarks --quick    # each one's quick mode
    python -m benchmarks --only recorder,replay_transfer
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["stores", "compaction", "ingest", "http_ingest", "ingest_cpu", "dom_scan",
              "replay_seek", "replay_transfer", "recorder", "analytics"]
# The ones with a --quick mode (the others always run as they are).
QUICK = {"stores", "compaction", "ingest", "http_ingest", "ingest_cpu", "replay_transfer",
         "recorder"}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    failed = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}; one of {', '.join(BENCHMARKS)}")
        print(f"\n== {name} ==", flush=True)
        quick = ["--quick"] if args.quick and name in QUICK else []
        command = [sys.executable, str(HERE / f"{name}.py"), *quick]
        if subprocess.run(command, env=env).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
