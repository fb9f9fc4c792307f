"""Hard frames: what a gate camera sees of a health code on a phone, made deterministically.

    python bench/hardframes.py OUT_DIR      # write every frame as PNG with its expected .txt

Each frame is 640×480 grayscale, a THP1 code of realistic length (signed with a fixed
Ed25519 key; name, NAT date, often a return record and an employer: 215–255 characters,
alphanumeric mode, EC level M, version 8–9: 49–53 modules) shown in a phone app's white card
on a phone held in front of a grey scene, seen through a pinhole camera (f = 600 px), then
degraded:

- `glare`   a lamp's specular highlight (additive, saturating) plus a window reflected in the
            glass (a low-contrast bright overlay)
- `moire`   the screen's pixel grid sampled by the camera's sensor grid without anti-aliasing
- `dim`     a dim screen in a bright scene: low contrast, raised black level, sensor gain noise
- `tilt`    the phone turned away from the camera (perspective)
- `motion`  linear motion blur as the phone is raised
- `defocus` the phone held too close for the lens: disk blur
- `small`   the phone held too far away: 1.5–2.2 pixels per module
- `jpeg`    a cheap USB camera: limited-range YUV, edge over-sharpening, MJPEG compression

Every kind comes at three strengths (1 mild, 2 clear, 3 severe), alone (8 × 3 × 6 frames) and
in realistic combinations (16 × 2 strengths × 3 frames): 240 frames. `sequences()` makes
phones raised towards the camera at 15 frames/s for the time-to-read measurement.
Everything is derived from fixed seeds: the same frames on every machine (NumPy's PCG64 and
OpenCV's arithmetic are deterministic for the same versions).
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Gray = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]

KINDS = ("glare", "moire", "dim", "tilt", "motion", "defocus", "small", "jpeg")
COMBINATIONS = (
    ("dim", "jpeg"), ("dim", "motion"), ("glare", "tilt"), ("moire", "tilt"),
    ("small", "jpeg"), ("defocus", "dim"), ("motion", "tilt"), ("glare", "moire"),
    ("small", "dim"), ("defocus", "jpeg"), ("dim", "jpeg", "motion"), ("glare", "tilt", "jpeg"),
    ("small", "tilt"), ("moire", "dim"), ("motion", "jpeg"), ("glare", "dim"),
)
FRAME_SIZE = (480, 640)  # height, width: the station's camera
FOCAL_PX = 600.0  # a typical USB webcam's 56° horizontal field of view at 640 px
MODULE_PHONE_PX = 8  # phone-space pixels per module; the camera sees 1.5–5 px per module
ISSUER_SEED = bytes(range(32))  # a fixed key: Ed25519 signatures are deterministic


@dataclass(frozen=True)
class HardFrame:
    name: str
    kinds: tuple[str, ...]
    strength: int
    text: str
    frame: Gray


@dataclass(frozen=True)
class Pose:
    """Where the phone is: code centre in camera pixels, code width (quiet zone excluded) in
    camera pixels when seen face-on, and its rotations in degrees."""

    cx: float
    cy: float
    code_px: float
    roll: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0


@dataclass(frozen=True)
class Look:
    """Everything but the pose: the degradations and their strengths."""

    glare: int = 0
    moire: int = 0
    dim: int = 0
    motion: int = 0
    motion_angle: float = 90.0
    defocus: int = 0
    jpeg: int = 0
    motion_px: float | None = None  # overrides the strength's blur length (sequences)


@dataclass(frozen=True)
class Sequence:
    """A phone raised into view: frames at 15 frames/s and the first index at which the whole
    code (quiet zone included) is inside the frame."""

    name: str
    condition: str
    text: str
    frames: list[Gray]
    full_view_index: int
    fps: float = 15.0


def thp1_texts(count: int) -> list[str]:
    """`count` THP1 codes as issuers write them (every optional claim filled in)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from station.codes import Color, HealthClaims, Origin, Returning, issue

    key = ed25519.Ed25519PrivateKey.from_private_bytes(ISSUER_SEED)
    names = ["张*", "李**", "王*", "陈*华", "刘*", "赵**", "周*", "吴*"]
    base = int(dt.datetime(2021, 2, 22, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
               .timestamp())
    texts = []
    for i in range(count):
        claims = HealthClaims(
            iss="500118", iat=base - 3600 * (i % 20), exp=base + 86400 - 3600 * (i % 20),
            sub=f"W{1234567 + 7919 * i:07d}", color=Color.GREEN, name=names[i % len(names)],
            nat=dt.date(2021, 2, 10) + dt.timedelta(days=i % 9),
            ret=Returning(dt.date(2021, 2, 1) + dt.timedelta(days=i % 13), Origin(1 + i % 3))
            if i % 2 == 0 else None,
            org=f"91500118MA{60000000 + 104729 * i:08d}"[:18] if i % 3 else None)
        texts.append(issue(key, claims))
    return texts


# --- the phone ---------------------------------------------------------------------------


def _code_modules(text: str) -> npt.NDArray[np.bool_]:
    import segno

    code = segno.make(text, error="m", micro=False)
    return np.array([list(row) for row in code.matrix], dtype=bool)


def phone_screen(text: str, look: Look, rng: np.random.Generator) -> tuple[Floats, float]:
    """The phone in phone-space pixels (float luminance 0–255, bezel included) and the width
    of the code (quiet zone excluded) in those pixels."""
    import cv2

    modules = _code_modules(text)
    code = np.kron(np.where(modules, 0.0, 1.0), np.ones((MODULE_PHONE_PX, MODULE_PHONE_PX)))
    code_w = code.shape[0]
    width = code_w + 16 * MODULE_PHONE_PX
    height = int(width * 2.05)
    screen = np.full((height, width), 0.93, dtype=np.float32)  # the app's light background
    screen[: height // 7] = 0.55  # green header bar, as luminance
    title = np.zeros((height // 7, width), dtype=np.uint8)  # putText draws on 8-bit images only
    cv2.putText(title, "Health Pass  500118", (width // 12, height // 12),
                cv2.FONT_HERSHEY_SIMPLEX, width / 400, 255, max(1, width // 200))
    screen[: height // 7] += title.astype(np.float32) * (0.45 / 255)
    card_top = height // 4
    card = (slice(card_top, card_top + code_w + 12 * MODULE_PHONE_PX),
            slice(2 * MODULE_PHONE_PX, width - 2 * MODULE_PHONE_PX))
    screen[card] = 1.0
    top = card_top + 6 * MODULE_PHONE_PX
    left = (width - code_w) // 2
    screen[top : top + code_w, left : left + code_w] = code
    for line in range(3):  # name and date lines under the card
        y = card_top + code_w + (16 + 6 * line) * MODULE_PHONE_PX
        cv2.rectangle(screen, (width // 6, y), (width // 6 + int(width * (0.6 - 0.1 * line)),
                                                y + 2 * MODULE_PHONE_PX), 0.35, -1)
    if look.moire:
        # The pixel grid: dark gaps between pixels, three phone-space pixels per screen pixel.
        depth = (0.18, 0.32, 0.48)[look.moire - 1]
        grid = np.ones((height, width), dtype=np.float32)
        grid[::3, :] -= depth
        grid[:, ::3] -= depth
        screen *= np.clip(grid, 0, 1)
    white, black = 245.0, 6.0
    if look.dim:
        white = (120.0, 85.0, 62.0)[look.dim - 1]
        black = white * 0.08 + (20.0, 28.0, 34.0)[look.dim - 1]  # ambient light on the glass
    image = black + (white - black) * screen
    bezel = 6 * MODULE_PHONE_PX
    phone = np.full((height + 2 * bezel, width + 2 * bezel), 18.0, dtype=np.float32)
    phone[bezel:-bezel, bezel:-bezel] = image
    del rng
    return phone, float(code_w)


def _rotation(roll: float, yaw: float, pitch: float) -> npt.NDArray[np.float64]:
    r, y, p = (math.radians(a) for a in (roll, yaw, pitch))
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    return rz @ ry @ rx


def homography(phone_shape: tuple[int, int], code_centre: tuple[float, float],
               code_w_phone: float, pose: Pose) -> npt.NDArray[np.float64]:
    """Phone-space pixels → camera pixels for a flat phone at `pose` (pinhole camera)."""
    import cv2

    depth = 300.0  # mm; only the ratio to the focal length matters
    mm_per_px = pose.code_px * depth / (FOCAL_PX * code_w_phone)
    height, width = phone_shape
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    rotation = _rotation(pose.roll, pose.yaw, pose.pitch)
    centre = np.array([(pose.cx - FRAME_SIZE[1] / 2) * depth / FOCAL_PX,
                       (pose.cy - FRAME_SIZE[0] / 2) * depth / FOCAL_PX, depth])
    projected = []
    for u, v in corners:
        local = np.array([(u - code_centre[0]) * mm_per_px, (v - code_centre[1]) * mm_per_px, 0])
        x, y, z = rotation @ local + centre
        projected.append([FOCAL_PX * x / z + FRAME_SIZE[1] / 2,
                          FOCAL_PX * y / z + FRAME_SIZE[0] / 2])
    return np.asarray(cv2.getPerspectiveTransform(corners.astype(np.float32),
                                                  np.array(projected, dtype=np.float32)))


def scene(rng: np.random.Generator) -> Floats:
    """A grey gate scene: a lit wall gradient with a few darker shapes."""
    import cv2

    height, width = FRAME_SIZE
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 150 + 40 * np.sin(xs / width * rng.uniform(1, 3)) + 30 * ys / height
    for _ in range(4):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = (int(rng.integers(40, 200)), int(rng.integers(40, 200)))
        cv2.rectangle(base, (x, y), (x + size[0], y + size[1]), float(rng.uniform(60, 200)), -1)
    return np.asarray(cv2.GaussianBlur(base, (0, 0), 3), dtype=np.float32)


def _disk(radius: float) -> Floats:
    size = math.ceil(radius) * 2 + 1
    ys, xs = np.mgrid[0:size, 0:size] - size // 2
    kernel = (xs * xs + ys * ys <= radius * radius).astype(np.float32)
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)


def _line(length: float, angle: float) -> Floats:
    import cv2

    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), dtype=np.float32)
    c = size // 2
    dx, dy = math.cos(math.radians(angle)) * (length - 1) / 2, math.sin(math.radians(angle)) * (
        length - 1) / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)


def render(text: str, pose: Pose, look: Look, seed: int) -> tuple[Gray, npt.NDArray[np.float64]]:
    """One camera frame, and the code's four corners (quiet zone included) in it."""
    import cv2

    rng = np.random.default_rng(seed)
    phone, code_w = phone_screen(text, look, rng)
    bezel = 6 * MODULE_PHONE_PX
    width = phone.shape[1]
    code_top = bezel + (phone.shape[0] - 2 * bezel) // 4 + 6 * MODULE_PHONE_PX
    centre = (width / 2, code_top + code_w / 2)
    matrix = homography(phone.shape, centre, code_w, pose)
    scale = pose.code_px / code_w
    if not look.moire:  # the lens and pixel area smooth the screen; moiré is the failure of it
        phone = cv2.GaussianBlur(phone, (0, 0), max(0.5, 0.45 / scale))
    height, frame_w = FRAME_SIZE
    warped = cv2.warpPerspective(phone, matrix, (frame_w, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones(phone.shape, np.float32), matrix, (frame_w, height),
                               flags=cv2.INTER_LINEAR)
    frame = scene(rng) * (1 - mask) + warped * mask
    if look.glare:
        strength = look.glare - 1
        gx = pose.cx + rng.uniform(-0.35, 0.35) * pose.code_px
        gy = pose.cy + rng.uniform(-0.35, 0.35) * pose.code_px
        ys, xs = np.mgrid[0:height, 0:frame_w].astype(np.float32)
        radius = (0.12, 0.18, 0.24)[strength] * pose.code_px
        blob = np.exp(-(((xs - gx) / (radius * 1.6)) ** 2 + ((ys - gy) / radius) ** 2))
        window = np.zeros((height, frame_w), np.float32)  # a window's bars reflected in the glass
        wx, wy = int(pose.cx - pose.code_px * 0.8), int(pose.cy - pose.code_px * 0.7)
        cv2.rectangle(window, (wx, wy), (wx + int(pose.code_px), wy + int(pose.code_px * 1.2)),
                      1.0, -1)
        cv2.line(window, (wx + int(pose.code_px / 2), wy),
                 (wx + int(pose.code_px / 2), wy + int(pose.code_px * 1.2)), 0.0, 6)
        window = cv2.GaussianBlur(window, (0, 0), 6)
        frame += mask * ((150.0, 220.0, 300.0)[strength] * blob
                         + (35.0, 60.0, 85.0)[strength] * window)
    if look.motion or look.motion_px:
        length = look.motion_px if look.motion_px else (5.0, 9.0, 14.0)[look.motion - 1]
        if length >= 1.5:
            frame = cv2.filter2D(frame, -1, _line(length, look.motion_angle))
    if look.defocus:
        frame = cv2.filter2D(frame, -1, _disk((1.5, 2.5, 3.5)[look.defocus - 1]))
    frame = cv2.GaussianBlur(frame, (0, 0), 0.6)  # the lens, always
    gain_noise = (2.0, 4.0, 6.0, 8.0)[look.dim]
    frame = frame + rng.normal(0, gain_noise, frame.shape).astype(np.float32)
    if look.jpeg:
        strength = look.jpeg - 1
        blurred = cv2.GaussianBlur(frame, (0, 0), 1.2)  # the camera's own edge sharpening
        frame = frame + (0.6, 0.9, 1.2)[strength] * (frame - blurred)
        frame = 16 + np.clip(frame, 0, 255) * (219 / 255)  # limited-range Y
        ok, data = cv2.imencode(".jpg", np.clip(frame, 0, 255).astype(np.uint8),
                                [cv2.IMWRITE_JPEG_QUALITY, (35, 20, 10)[strength]])
        assert ok
        frame = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE).astype(np.float32)
    gray = np.clip(frame, 0, 255).astype(np.uint8)
    quiet = 4 * MODULE_PHONE_PX
    code_corners = np.array([[centre[0] - code_w / 2 - quiet, centre[1] - code_w / 2 - quiet],
                             [centre[0] + code_w / 2 + quiet, centre[1] - code_w / 2 - quiet],
                             [centre[0] + code_w / 2 + quiet, centre[1] + code_w / 2 + quiet],
                             [centre[0] - code_w / 2 - quiet, centre[1] + code_w / 2 + quiet]])
    corners = cv2.perspectiveTransform(code_corners.reshape(1, 4, 2), matrix).reshape(4, 2)
    return gray, corners


# --- the frame set -----------------------------------------------------------------------


def _pose(kinds: tuple[str, ...], strength: int, modules: int, rng: np.random.Generator) -> Pose:
    code_px = float(rng.uniform(150, 230))
    yaw, pitch = float(rng.uniform(-10, 10)), float(rng.uniform(-10, 10))
    if "tilt" in kinds:
        angle = (25.0, 40.0, 55.0)[strength - 1]
        share = float(rng.uniform(0, 1))
        yaw = angle * math.sqrt(share) * (1 if rng.uniform() < 0.5 else -1)
        pitch = angle * math.sqrt(1 - share) * (1 if rng.uniform() < 0.5 else -1)
    if "small" in kinds:
        code_px = modules * (2.2, 1.8, 1.5)[strength - 1]
    if "defocus" in kinds:
        code_px = float(rng.uniform(230, 300))  # too close for the lens
    margin = code_px * 0.75
    return Pose(cx=float(rng.uniform(margin, FRAME_SIZE[1] - margin)),
                cy=float(rng.uniform(min(margin, 240), max(FRAME_SIZE[0] - margin, 240))),
                code_px=code_px, roll=float(rng.uniform(-15, 15)), yaw=yaw, pitch=pitch)


def _look(kinds: tuple[str, ...], strength: int, rng: np.random.Generator) -> Look:
    def level(kind: str) -> int:
        return strength if kind in kinds else 0

    return Look(glare=level("glare"), moire=level("moire"), dim=level("dim"),
                motion=level("motion"), motion_angle=float(rng.uniform(50, 130)),
                defocus=level("defocus"), jpeg=level("jpeg"))


def hard_frames() -> list[HardFrame]:
    """The 240 hard frames, in a fixed order."""
    texts = thp1_texts(24)
    plan: list[tuple[tuple[str, ...], int]] = []
    for kind in KINDS:
        for strength in (1, 2, 3):
            plan += [((kind,), strength)] * 6
    for combination in COMBINATIONS:
        for strength in (1, 2):
            plan += [(combination, strength)] * 3
    frames = []
    for index, (kinds, strength) in enumerate(plan):
        rng = np.random.default_rng(1000 + index)
        text = texts[index % len(texts)]
        modules = len(_code_modules(text))
        pose, look = _pose(kinds, strength, modules, rng), _look(kinds, strength, rng)
        frame, _ = render(text, pose, look, seed=index)
        frames.append(HardFrame(f"{index:03d}-{'+'.join(kinds)}-{strength}", kinds, strength,
                                text, frame))
    return frames


SEQUENCE_CONDITIONS = ("plain", "dim", "glare", "moire", "jpeg", "far", "tilt", "dim+jpeg")


def sequences(count: int = 24, fps: float = 15.0) -> list[Sequence]:
    """Phones raised from below the frame towards the camera, then held (with a shaking hand)
    for the rest of 2 s. Motion blur follows the speed (exposure half the frame period)."""
    texts = thp1_texts(count)
    found = []
    for index in range(count):
        rng = np.random.default_rng(5000 + index)
        condition = SEQUENCE_CONDITIONS[index % len(SEQUENCE_CONDITIONS)]
        parts = condition.split("+")
        modules = len(_code_modules(texts[index]))
        final_px = modules * 1.9 if "far" in parts else float(rng.uniform(160, 230))
        final = (float(rng.uniform(260, 380)), float(rng.uniform(200, 280)))
        final_tilt = 35.0 if "tilt" in parts else float(rng.uniform(0, 12))
        rise = int(rng.integers(8, 13))  # frames to bring the phone up
        look = Look(dim=2 if "dim" in parts else 0, glare=2 if "glare" in parts else 0,
                    moire=2 if "moire" in parts else 0, jpeg=2 if "jpeg" in parts else 0)
        frames: list[Gray] = []
        full_view = -1
        previous: tuple[float, float] | None = None
        for step in range(int(2 * fps)):
            t = min(1.0, step / rise)
            ease = 1 - (1 - t) ** 3
            cx = final[0] + (1 - ease) * 60
            cy = final[1] + (1 - ease) * 420
            code_px = final_px * (0.7 + 0.3 * ease)
            if t >= 1.0:  # held: the hand shakes a little
                cx += float(rng.normal(0, 1.5))
                cy += float(rng.normal(0, 1.5))
            speed = 0.0 if previous is None else math.hypot(cx - previous[0], cy - previous[1])
            angle = 90.0 if previous is None else math.degrees(
                math.atan2(cy - previous[1], cx - previous[0]))
            previous = (cx, cy)
            tilt = final_tilt + (1 - ease) * 30
            pose = Pose(cx=cx, cy=cy, code_px=code_px, roll=float(rng.uniform(-5, 5)),
                        yaw=tilt * 0.4, pitch=tilt)
            frame_look = Look(dim=look.dim, glare=look.glare, moire=look.moire, jpeg=look.jpeg,
                              motion_angle=angle, motion_px=0.5 * speed)
            frame, corners = render(texts[index], pose, frame_look, seed=90000 + 100 * index + step)
            inside = bool(np.all((corners >= 0) & (corners < [FRAME_SIZE[1], FRAME_SIZE[0]])))
            if inside and full_view < 0:
                full_view = step
            frames.append(frame)
        assert full_view >= 0, f"sequence {index} never shows the whole code"
        found.append(Sequence(f"seq-{index:02d}-{condition}", condition, texts[index], frames,
                              full_view, fps))
    return found


def main() -> int:
    import cv2

    if len(sys.argv) != 2:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for item in hard_frames():
        cv2.imwrite(str(out / f"{item.name}.png"), item.frame)
        (out / f"{item.name}.txt").write_text(item.text, encoding="utf-8")
    print(f"{out}: 240 frames with expected texts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
