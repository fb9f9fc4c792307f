"""Decode benchmark: the station's decoder chain over the QR black-box photo set.

    python bench/decode.py [DATASET_DIR] [--chain zxing,zbar,zxing-smooth]

For each image NAME.ext with an expected NAME.txt, decode the grayscale image with the chain
and compare the text byte for byte. Prints success rate, wrong decodes, and median / p95
milliseconds per image (decode only; the image is read from disk before the clock starts).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.decoders import DEFAULT_CHAIN, DecoderChain, read_image

DEFAULT_DATASET = Path(__file__).resolve().parent.parent.parent / "shared/datasets/qr-blackbox"


def samples(root: Path) -> list[tuple[Path, bytes]]:
    found = []
    for expected in sorted(root.glob("*/*.txt")):
        images = [p for p in expected.parent.glob(expected.stem + ".*") if p.suffix != ".txt"]
        if images:
            found.append((images[0], expected.read_bytes()))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--chain", default=",".join(DEFAULT_CHAIN))
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the set")
    parser.add_argument("--verbose", action="store_true", help="list failures")
    args = parser.parse_args()
    items = samples(args.dataset)
    if not items:
        print(f"{args.dataset}: no images with expected .txt found", file=sys.stderr)
        return 2
    chain = DecoderChain(args.chain.split(","))
    frames = [(path, read_image(str(path)), expected) for path, expected in items]
    decoded = wrong = 0
    times_ms: list[float] = []
    for pass_number in range(args.repeat):
        for path, frame, expected in frames:
            start = time.perf_counter()
            texts = chain.decode(frame)
            times_ms.append((time.perf_counter() - start) * 1000)
            if pass_number:
                continue
            encoded = [t.encode("utf-8") for t in texts]
            if expected in encoded:
                decoded += 1
            elif encoded:
                wrong += 1
                if args.verbose:
                    print(f"WRONG {path}: {encoded[0][:60]!r}")
            elif args.verbose:
                print(f"MISSED {path}")
    total = len(frames)
    quantiles = statistics.quantiles(times_ms, n=100)
    print(f"chain: {','.join(chain.names)}")
    print(f"decoded: {decoded}/{total} = {100 * decoded / total:.1f} %  (wrong: {wrong})")
    print(f"ms per image: median {statistics.median(times_ms):.2f}, p95 {quantiles[94]:.2f}, "
          f"mean {statistics.fmean(times_ms):.2f}  ({len(times_ms)} decodes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
