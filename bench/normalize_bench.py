"""Benchmark Fusillade normalization: each payload file through the real adapter, in process.

Run from the repository root:  .venv/bin/python bench/normalize_bench.py [--number 2000] [--repeat 7]
Builds the adapter as the config does for a source without a ``normalize:`` block
(``ADAPTERS["fusillade"].create(None)``) and times ``safe_normalize`` (body parsing
included) on every file in tests/testdata/payloads/fusillade/. Prints the best of
``--repeat`` runs in µs of CPU time per normalize for each payload, then the mean over the
payloads and over those that normalize to a known event type. CPU time (not wall time) so
that other load on the machine skews the figures less.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from receiver.sources import ADAPTERS
from receiver.sources.base import safe_normalize
from receiver.verify.base import RawRequest

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "testdata" / "payloads" / "fusillade"
# What a signed Fusillade request carries (header names are lower-cased on receipt).
HEADERS = {"content-type": "application/json", "x-fusillade-signature": "t=1767323045,v1=00"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="normalizations per timed run")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per payload (the best is shown)")
    args = parser.parse_args()

    adapter = ADAPTERS["fusillade"].create(None)
    results: dict[str, float] = {}
    known: list[str] = []  # the payloads that normalize to an event type (the real work)
    for path in sorted(PAYLOADS.glob("*.json")):
        req = RawRequest(body=path.read_bytes(), headers=HEADERS)
        n = safe_normalize(adapter, req)
        timer = timeit.Timer(lambda req=req: safe_normalize(adapter, req), timer=time.process_time)
        times = timer.repeat(number=args.number, repeat=args.repeat)
        results[path.name] = us = min(times) / args.number * 1e6
        if not n.type.endswith(".unknown"):
            known.append(path.name)
        print(f"{path.name:36} {us:7.2f} µs  {n.type}")
    print(f"{f'mean over {len(results)} payloads':36} {sum(results.values()) / len(results):7.2f} µs")
    print(f"{f'mean over {len(known)} known events':36} {sum(results[k] for k in known) / len(known):7.2f} µs")


if __name__ == "__main__":
    main()
