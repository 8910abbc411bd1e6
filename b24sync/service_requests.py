"""Commands given while `b24sync run` holds the lock: queued in the state store, carried out by the service.

The command records its request (SQLite in WAL mode lets a second writer in for a moment) and waits with
one progress line until the service, which looks for requests every couple of seconds, has carried it
out; it then prints what the service said and exits with the service's exit code. Ctrl+C withdraws a
request the service has not started yet.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from b24sync.config import Config
from b24sync.errors import EXIT_OK, EXIT_UNREACHABLE
from b24sync.store.lock import LockHeldError
from b24sync.store.store import Store
from b24sync.wiring import lock_for

POLL_SECONDS = 0.5
INTERRUPTED = 130


PROGRESS_POLLS = 60  # polls between two "still waiting" lines (half a minute)
PICKUP_TIMEOUT_SECONDS = 600  # a service that has not taken a request in ten minutes is taken for stuck


def through_service(config: Config, command: str, arguments: dict[str, Any], pid: int | None) -> int:
    """Hand the command to the running service and wait for its answer."""
    store = Store(config.state_path)
    try:
        holder = f"the service (PID {pid})" if pid else "the service"
        request_id = store.add_request(command, arguments)
        try:  # from the moment the request exists, Ctrl+C withdraws it (even before the first line is out)
            print(f"{holder} holds the lock: it carries this `{command}` out; waiting for it…", file=sys.stderr,
                  flush=True)
            told_started = False
            polls = 0
            waiting_since = time.monotonic()
            while True:
                polls += 1
                started, finished, code, output = store.request_state(request_id)
                if finished:
                    if output:
                        print(output, flush=True)
                    return EXIT_OK if code is None else code
                if started and not told_started:
                    print(f"{holder} has started it…", file=sys.stderr, flush=True)
                    told_started = True
                waited = time.monotonic() - waiting_since
                if polls % PROGRESS_POLLS == 0:  # a line every half minute: the command is alive, and how long
                    print(f"  still waiting ({int(waited)} s): " + ("the service is carrying it out" if started else
                          "the service is busy with a cycle; it takes requests between cycles"), file=sys.stderr,
                          flush=True)
                if not started and waited > PICKUP_TIMEOUT_SECONDS and store.cancel_request(request_id):
                    print(f"{holder} has not taken the request in {int(waited)} s, so it was withdrawn: the service "
                          f"may be stuck (`systemctl status b24sync`, `journalctl -u b24sync`); run the command "
                          f"again when it is back", file=sys.stderr, flush=True)
                    return EXIT_UNREACHABLE
                if polls % 10 == 0 and not _service_alive(config):  # every 5 s: is the service still there?
                    withdrawn = store.cancel_request(request_id)
                    print(f"{holder} stopped before it " + ("started this request; it was withdrawn: run the "
                          "command again" if withdrawn else "finished this request; check `b24sync status` and "
                          "run the command again if it is still needed"), file=sys.stderr, flush=True)
                    return EXIT_UNREACHABLE
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            withdrawn = store.cancel_request(request_id)
            print("interrupted: " + ("the request was withdrawn" if withdrawn else
                                     "the service has started it and finishes it; its log says how it ended "
                                     "(request_finished)"), file=sys.stderr, flush=True)
            return INTERRUPTED
    finally:
        store.close()


def _service_alive(config: Config) -> bool:
    """Whether the service still holds the lock (a lock nobody holds: it stopped, or was killed)."""
    try:
        lock = lock_for(config).acquire()
    except LockHeldError:
        return True
    lock.release()
    return False
