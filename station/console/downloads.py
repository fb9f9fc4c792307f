"""File downloads built in a temporary file and streamed, then deleted (XLSX, CSV)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def file_download(write: Callable[[Path], object], filename: str, media_type: str
                  ) -> FileResponse:
    """Run `write(path)` into a temporary file and answer with it as an attachment."""
    handle, name = tempfile.mkstemp(prefix="gate-console-", suffix=Path(filename).suffix)
    os.close(handle)
    path = Path(name)
    try:
        write(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type=media_type, background=BackgroundTask(
        path.unlink, missing_ok=True), headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
