"""`gate-station run`: the gate loop as a daemon under systemd.

Builds the configured drivers (real or fake), opens the ledger and the trust store, and runs
`Gate.step()` until SIGTERM or SIGINT. A signal lets the current person finish; then the
relay is switched off and the process exits 0. Logs go to stderr (journald). systemd is told
READY=1 once the loop runs, WATCHDOG=1 after each real iteration, and STOPPING=1 on the way
out; the unit's ExecStopPost switches the relay off even after a SIGKILL.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from drivers.outputs import GateOutputs
from station import hardware
from station.bundle import BundleWatcher
from station.clock import SystemClock
from station.config import Config
from station.gate import Gate, GateTiming
from station.handover import CaptureSlot, HandoverServer
from station.ledger import Ledger, LedgerError
from station.sdnotify import Notifier

log = logging.getLogger("gate-station")


def open_ledger_or_wait(path: str, outputs: GateOutputs, stop: threading.Event,
                        retry_s: float = 5.0) -> Ledger | None:
    """The ledger, or — while it cannot be opened (disk full, read-only card, bad path) —
    red blinking, an error in the log every `retry_s`, and nobody admitted. None if stopped."""
    while True:
        try:
            ledger = Ledger(path)
        except LedgerError as error:
            outputs.show_fault()
            log.error("LEDGER CANNOT BE OPENED — admitting nobody until it can: %s", error)
            if stop.wait(retry_s):
                return None
            continue
        outputs.clear_fault()
        return ledger


def gate_timing(config: Config) -> GateTiming:
    """The gate loop's timing, with the door contact's hold-open limit from config."""
    door = config.outputs.door_contact
    return GateTiming(door_held_open_s=door.held_open_s) if door else GateTiming()


def start_handover(config: Config, captures: CaptureSlot) -> HandoverServer | None:
    """The console's hand-over socket, or None when it is switched off or cannot be made
    (the gate works on without it; the guard then types colour and temperature by hand)."""
    if config.handover.socket is None:
        return None
    try:
        return HandoverServer(Path(config.handover.socket), captures).start()
    except OSError as error:
        log.error("hand-over socket %s cannot be made, the console will ask the guard to "
                  "type colour and temperature: %s", config.handover.socket, error)
        return None


def run(config: Config, *, stop: threading.Event | None = None,
        notifier: Notifier | None = None) -> int:
    stop = stop or threading.Event()
    notifier = notifier or Notifier()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: finishing the current person, then stopping",
                 signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)

    fakes = hardware.Fakes()
    clock = SystemClock()
    outputs = hardware.build_outputs(config, fakes)
    try:
        thermometer = hardware.build_thermometer(config, fakes)
        if fakes.smbus is not None:
            fakes.smbus.object_c = fakes.smbus.ambient_c = 22.0
        scanner = hardware.build_scanner(config, fakes)
        ledger = open_ledger_or_wait(config.ledger.path, outputs, stop)
        if ledger is None:
            return 0  # stopped while waiting for the ledger
        bundle = BundleWatcher(Path(config.bundle.path), config.policy)
        if bundle.version is None:
            log.warning("no bundle at %s yet: no issuer is trusted, every code is refused "
                        "until the sync client fetches one", config.bundle.path)
        captures = CaptureSlot()
        handover = start_handover(config, captures)
        gate = Gate(thermometer=thermometer, scanner=scanner, outputs=outputs, ledger=ledger,
                    trust=bundle.current_trust, policy=bundle.current_policy, clock=clock,
                    timing=gate_timing(config), captures=captures)
        outputs.on_exit_pressed(gate.press_exit)
        log.info("gate %s running: ledger %s (epoch %s), bundle %s, drivers %s",
                 config.station.id, ledger.path, ledger.epoch, bundle.version,
                 "fake" if fakes.smbus or fakes.camera else "real")
        notifier.notify(f"READY=1\nSTATUS=gate {config.station.id} running")
        while not stop.is_set():
            gate.step()
            notifier.watchdog()
        notifier.notify("STOPPING=1")
        if handover is not None:
            handover.close()
        scanner.close()
        thermometer.close()
        ledger.close()
    finally:
        outputs.close()  # relay off first, whatever happened above
        log.info("stopped; relay off")
    return 0
