"""Decode benchmark: the station's decoder chain on three frame sets (issue 13's targets).

    python bench/decode.py [--set public|hard|sequences|all] [--compare] [--verbose]
                           [--chain zxing,zxing-smooth,zxing-median] [--no-rescue]

- `public`: the QR black-box photo set (DATASET_DIR/*/NAME.ext with NAME.txt, compared byte
  for byte; default ../shared/datasets/qr-blackbox), single images. [≥ 95.6 %, 0 wrong]
- `hard`: the 240 generated phone-screen frames of bench/hardframes.py, single frames, with a
  breakdown by degradation and strength. [≥ 85 %, median ≤ 8 ms, p95 ≤ 30 ms, 0 wrong]
- `sequences`: phones raised towards the camera (bench/hardframes.py), played in real time at
  15 frames/s by the fake camera's live model and read by the real `CameraScanner` (newest
  frame, region hint, hold-off): time from the first frame with the whole code in view to
  the text. [median ≤ 300 ms, none unread] The camera's capture phase (how long after the
  code comes into view the camera's next frame is taken) is spread evenly over the frame
  period across the sequences (`capture_phase`), as a free-running camera's is.

Times are decode only (frames are made or read before the clock starts); ms per frame over
`--repeat` passes, wall time and the process's CPU time (all threads: OpenCV's too), with
the load average at the end of the set (the machine may be shared: compare CPU times).
`--compare` runs the same frames through zxing-cpp alone, zbar alone and the chain before
issue 13 (zxing, zbar, zxing-smooth, no rescue) as well.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from drivers.decoders import DEFAULT_CHAIN, DecoderChain, Frame, read_image  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared/datasets/qr-blackbox"
Case = tuple[str, Frame, str]  # name, frame, expected text


def public_cases(root: Path) -> list[Case]:
    found = []
    for expected in sorted(root.glob("*/*.txt")):
        images = [p for p in expected.parent.glob(expected.stem + ".*") if p.suffix != ".txt"]
        if images:
            text = expected.read_bytes().decode("utf-8")
            found.append((str(images[0].relative_to(root)), read_image(str(images[0])), text))
    return found


def hard_cases() -> list[Case]:
    from hardframes import hard_frames

    return [(item.name, item.frame, item.text) for item in hard_frames()]


def chains(args: argparse.Namespace) -> dict[str, DecoderChain]:
    station = DecoderChain(args.chain.split(","), rescue=not args.no_rescue)
    found = {"station chain": station}
    if args.compare:
        found["zxing-cpp alone"] = DecoderChain(["zxing"], rescue=False)
        found["zbar alone"] = DecoderChain(["zbar"], rescue=False)
        found["before (zxing,zbar,zxing-smooth)"] = DecoderChain(
            ["zxing", "zbar", "zxing-smooth"], rescue=False)
    return found


def run_frames(label: str, cases: list[Case], chain: DecoderChain, repeat: int,
               verbose: bool, breakdown: Callable[[str], str] | None) -> None:
    decoded = wrong = 0
    times_ms: list[float] = []
    cpu_ms: list[float] = []
    steps: dict[str, int] = defaultdict(int)
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pass_number in range(repeat):
        for name, frame, expected in cases:
            start, cpu_start = time.perf_counter(), time.process_time()
            reading = chain.read(frame)
            times_ms.append((time.perf_counter() - start) * 1000)
            cpu_ms.append((time.process_time() - cpu_start) * 1000)
            if pass_number:
                continue
            group = groups[breakdown(name)] if breakdown else [0, 0]
            group[1] += 1
            if expected in reading.texts:
                decoded += 1
                group[0] += 1
                steps[reading.step or "?"] += 1
            elif reading.texts:
                wrong += 1
                print(f"  WRONG {name}: {reading.texts[0][:60]!r}")
            elif verbose:
                print(f"  missed {name}")
    total = len(cases)
    p95 = statistics.quantiles(times_ms, n=100)[94]
    cpu_p95 = statistics.quantiles(cpu_ms, n=100)[94]
    print(f"{label}: decoded {decoded}/{total} = {100 * decoded / total:.1f} %, wrong {wrong}; "
          f"ms per frame median {statistics.median(times_ms):.2f}, p95 {p95:.2f}, "
          f"max {max(times_ms):.1f} ({len(times_ms)} decodes); CPU ms per frame median "
          f"{statistics.median(cpu_ms):.2f}, p95 {cpu_p95:.2f}, max {max(cpu_ms):.1f} "
          f"(load average {_load()})")
    print("  read by: " + ", ".join(f"{k} {v}" for k, v in sorted(steps.items(),
                                                                     key=lambda kv: -kv[1])))
    if breakdown:
        for key in sorted(groups):
            ok, count = groups[key]
            print(f"  {key:24s} {ok:3d}/{count:<3d}")


def _load() -> str:
    """The 1-minute load average (the machine is shared: wall times depend on it)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def kind_and_strength(name: str) -> str:
    _, kinds, strength = name.split("-")
    return f"{kinds} s{strength}"


def run_sequences(label: str, names: list[str], rescue: bool, verbose: bool) -> None:
    from hardframes import sequences

    from drivers.camera import CameraScanner
    from drivers.fake_camera import FakeCamera

    results: list[float] = []
    unread, wrong = [], 0
    played = sequences()
    offsets = _frames_to_read(played, names, rescue)
    for number, sequence in enumerate(played):
        camera = FakeCamera(fps=sequence.fps, monotonic=time.monotonic)
        scanner = CameraScanner(camera.open, decoders=names, rescue=rescue)
        scanner.read_frame()  # open the camera before the sequence starts
        phase = capture_phase(number, len(played))
        start = camera.play(sequence.frames, phase=phase)
        before = len(camera.served)
        in_view = start + sequence.full_view_index / sequence.fps
        text = scanner.scan(len(sequence.frames) / sequence.fps + 0.5)
        done = time.monotonic()
        if text is None:
            unread.append(sequence.name)
            continue
        if text != sequence.text:
            wrong += 1
            continue
        results.append(max(0.0, done - in_view) * 1000)
        if verbose:
            print(f"  {sequence.name}: {results[-1]:.0f} ms ({scanner.last_step}; capture "
                  f"phase {phase:.2f}, frames {_served(camera, before)})")
    ms = sorted(results)
    summary = (f"median {statistics.median(ms):.0f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.0f}"
               f" ms, max {ms[-1]:.0f} ms") if ms else "no reads"
    print(f"{label}: read {len(ms)}/{len(ms) + len(unread) + wrong}, wrong {wrong}; "
          f"time from code fully in view to text: {summary}")
    if unread:
        print(f"  unread: {', '.join(unread)}")
    if offsets:
        ideal = [1000 * (n + 0.5) / played[0].fps for n in offsets]
        print(f"  frame by frame, no clock (independent of the machine's load): first frame read "
              f"{statistics.median(offsets):.1f} frames after the first in full view (median; "
              f"{', '.join(str(n) for n in sorted(offsets))}); at 15 frames/s with half a frame "
              f"of capture phase, {statistics.median(ideal):.0f} ms + one decode")


def _served(camera: Any, before: int) -> str:
    """The sequence frames the scanner decoded (a gap is a frame dropped while a slow decode
    ran); `before` is how many frames the camera had served when the sequence started."""
    shown = [camera.play_index(index) for index in camera.served[before:]]
    return ",".join(str(index) for index in shown)


def capture_phase(number: int, count: int) -> float:
    """The camera's capture phase for sequence `number` of `count`: where in its frame
    period the camera is when the phone comes into view. A real camera free-runs, so the
    phases are spread evenly over [0, 1) (mean half a period), in an order (steps of 7) that
    gives each of the 8 conditions phases from early, middle and late in the period."""
    step = 7 if count % 7 else 1
    return ((number * step) % count + 0.5) / count


def _frames_to_read(played: list[Any], names: list[str], rescue: bool) -> list[int]:
    """For each sequence, how many frames after the first fully-in-view one the first frame
    that the chain reads comes (every frame decoded, hints passed on as the camera does)."""
    from drivers.decoders import DecoderChain

    found = []
    for sequence in played:
        chain = DecoderChain(names, rescue=rescue)
        hint: list[Any] = []
        for index, frame in enumerate(sequence.frames):
            reading = chain.read(frame, hint)
            hint = reading.regions[:1] or hint
            if index >= sequence.full_view_index and sequence.text in reading.texts:
                found.append(index - sequence.full_view_index)
                break
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["public", "hard", "sequences", "all"], default="all")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--chain", default=",".join(DEFAULT_CHAIN))
    parser.add_argument("--no-rescue", action="store_true", help="fast path only")
    parser.add_argument("--compare", action="store_true",
                        help="also zxing-cpp alone, zbar alone, the chain before issue 13")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over each set")
    parser.add_argument("--verbose", action="store_true", help="list failures")
    args = parser.parse_args()
    sets = ["public", "hard", "sequences"] if args.set == "all" else [args.set]
    if "public" in sets:
        cases = public_cases(args.dataset)
        if not cases:
            print(f"{args.dataset}: no images with expected .txt found", file=sys.stderr)
            return 2
        print(f"== public photo set ({args.dataset}, {len(cases)} images)")
        for label, chain in chains(args).items():
            run_frames(label, cases, chain, args.repeat, args.verbose, None)
    if "hard" in sets:
        cases = hard_cases()
        print(f"== hard frames (bench/hardframes.py, {len(cases)} frames 640×480)")
        for label, chain in chains(args).items():
            run_frames(label, cases, chain, args.repeat, args.verbose,
                       kind_and_strength if label == "station chain" else None)
    if "sequences" in sets:
        print("== sequences (bench/hardframes.py, 24 phones raised at 15 frames/s, real time)")
        run_sequences("station chain", args.chain.split(","), not args.no_rescue, args.verbose)
        if args.compare:
            run_sequences("zxing-cpp alone", ["zxing"], False, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
