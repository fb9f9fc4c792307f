"""OpenCV, imported on first use with its own console logging switched off.

OpenCV prints `[ WARN:0@…] … findDecoder imread_(…)` for an unreadable image file and
`[ WARN:0@…] … can't open camera by index` / `[ERROR:0@…] …` when a camera does not open,
straight to the process's stderr. The station reports both itself, in one line
(ScannerError: "… not a readable image", "camera could not be opened"), so OpenCV's own
messages are silenced before any other OpenCV call is made.
"""

from __future__ import annotations

from typing import Any

_cv2: Any = None


def opencv() -> Any:
    """The `cv2` module, with OpenCV's log level set to silent (once)."""
    global _cv2
    if _cv2 is None:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        _cv2 = cv2
    return _cv2
