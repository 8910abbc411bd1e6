"""systemd: its notify protocol without a dependency (READY=1, WATCHDOG=1, STATUS=…), and the units we ship."""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send one notification to $NOTIFY_SOCKET; False when not run by systemd (or the socket is gone)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)  # a reader that does not keep up must never freeze the service's jobs
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of $WATCHDOG_USEC in seconds (how often to ping), or None when no watchdog is set."""
    value = os.environ.get("WATCHDOG_USEC")
    if not value or not value.isdigit():
        return None
    return int(value) / 2_000_000


UNIT_NAMES = ("b24sync.service", "b24sync@.service")


def unit_files() -> dict[str, str]:
    """The shipped unit files by name, read from the installed package (they travel in the wheel)."""
    from importlib.resources import files

    folder = files("b24sync") / "units"
    return {name: (folder / name).read_text(encoding="utf-8") for name in UNIT_NAMES}
