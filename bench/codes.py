"""Health-code verification benchmark.

    python bench/codes.py [--codes 2000] [--random 10000]

1. Median / p99 time of `verify()` over distinct valid codes (Ed25519, each with its own
   claims), against a trust list of 20 keys.
2. Total time to reject N random inputs (random text, random Base45 bodies, random bytes
   behind the prefix, and mutated valid codes — a quarter each).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import base45
from cryptography.hazmat.primitives.asymmetric import ed25519

from station.codes import CodeError, Color, HealthClaims, issue, verify
from station.trust import TrustList, trust_entry

NOW = 1612135000
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--random", type=int, default=10000)
    args = parser.parse_args()
    rng = random.Random(1)
    keys = [ed25519.Ed25519PrivateKey.generate() for _ in range(20)]
    trust = TrustList.from_document({"keys": [trust_entry(k.public_key(), "500118") for k in keys]})
    codes = [
        issue(rng.choice(keys), HealthClaims(
            iss="500118", iat=NOW - 3600, exp=NOW + 3600, sub=f"W{i:07d}", name="张*",
            color=Color.GREEN))
        for i in range(args.codes)
    ]
    for text in codes[:50]:  # warm-up
        verify(text, trust, NOW)
    times_us = []
    for text in codes:
        start = time.perf_counter()
        verify(text, trust, NOW)
        times_us.append((time.perf_counter() - start) * 1e6)
    p99 = statistics.quantiles(times_us, n=100)[98]
    print(f"verify, valid codes: median {statistics.median(times_us) / 1000:.3f} ms, "
          f"p99 {p99 / 1000:.3f} ms  ({len(codes)} codes)")

    inputs: list[str] = []
    for i in range(args.random):
        kind = i % 4
        if kind == 0:
            length = rng.randrange(300)
            inputs.append("".join(chr(rng.randrange(32, 0x3000)) for _ in range(length)))
        elif kind == 1:
            length = rng.randrange(600)
            inputs.append("THP1:" + "".join(rng.choice(ALPHABET) for _ in range(length)))
        elif kind == 2:
            data = rng.randbytes(rng.randrange(400))
            if rng.random() < 0.5:
                data = zlib.compress(data)
            inputs.append("THP1:" + base45.b45encode(data).decode())
        else:
            text = list(rng.choice(codes))
            index = rng.randrange(5, len(text))
            text[index] = rng.choice(ALPHABET.replace(text[index], ""))  # always a change
            inputs.append("".join(text))
    reasons: dict[str, int] = {}
    accepted = 0
    start = time.perf_counter()
    for text in inputs:
        try:
            verify(text, trust, NOW)
            accepted += 1
        except CodeError as error:
            reasons[error.reason] = reasons.get(error.reason, 0) + 1
    total = time.perf_counter() - start
    print(f"reject {len(inputs)} random inputs: {total:.2f} s in total "
          f"({total / len(inputs) * 1e6:.0f} µs each); accepted {accepted}")
    print("  reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    return 0 if accepted == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
