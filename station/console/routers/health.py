"""Station health: devices and their last faults, sync state, bundle, disk and ledger size."""

from __future__ import annotations

import datetime as dt
import shutil
import time

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from station.clock import CST
from station.console.deps import ConsoleDep, OfficerUser, PageDep, ReadLedger
from station.console.web import render
from station.ledger import RECOVERED

router = APIRouter(tags=["health"])
DEVICES = ("thermometer", "camera", "ledger")


@router.get("/health", response_class=HTMLResponse)
def health_page(page: PageDep, user: OfficerUser, ledger: ReadLedger,
                console: ConsoleDep) -> HTMLResponse:
    """Devices (open fault or last fault), sync backlog and last acknowledged record, town
    reachable, bundle version and age, free disk, ledger size."""
    faults = ledger.latest_faults()
    devices = []
    for device in sorted(set(DEVICES) | set(faults)):
        record = faults.get(device)
        devices.append({"name": device, "record": record,
                        "open": record is not None
                        and not (record.detail or "").startswith(RECOVERED)})
    bundle = console.bundle()
    path = console.ledger_path
    files = [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]
    ledger_bytes = sum(f.stat().st_size for f in files if f.exists())
    disk = shutil.disk_usage(path.parent)
    age_hours = (time.time() - bundle.saved_at) / 3600 if bundle.saved_at else None
    saved = dt.datetime.fromtimestamp(bundle.saved_at, CST).isoformat(sep=" ",
                                                                      timespec="seconds") \
        if bundle.saved_at else None
    return render(console.templates, page, "health.html", devices=devices,
                  sync=ledger.sync_summary(), town_url=console.config.town.url,
                  town_reachable=console.town.state(), bundle=bundle, bundle_saved=saved,
                  bundle_age_hours=age_hours, ledger_mb=ledger_bytes / 1e6,
                  ledger_max_mb=console.config.ledger.max_mb, records=ledger.max_seq(),
                  disk_free_gb=disk.free / 1e9, disk_total_gb=disk.total / 1e9,
                  disk_free_pct=100 * disk.free / disk.total if disk.total else 0)
