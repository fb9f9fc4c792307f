"""Hold-off: a scanner reports the same text once per hold-off period while it keeps seeing it
(a phone held up to the camera is seen in every frame). Shared by the camera and serial
scanners; it needs no imaging library, so importing the serial scanner stays light."""

from __future__ import annotations


class HoldOff:
    """Reports a text once per `seconds` (monotonic) while it keeps being seen."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._reported: dict[str, float] = {}

    def is_new(self, text: str, now: float) -> bool:
        self._reported = {t: at for t, at in self._reported.items() if now - at < self.seconds}
        if text in self._reported:
            return False
        self._reported[text] = now
        return True
