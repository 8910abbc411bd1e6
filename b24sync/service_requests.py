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
from b24sync.errors import EXIT_OK
from b24sync.store.store import Store

POLL_SECONDS = 0.5
INTERRUPTED = 130


def through_service(config: Config, command: str, arguments: dict[str, Any], pid: int | None) -> int:
    """Hand the command to the running service and wait for its answer."""
    store = Store(config.state_path)
    try:
        request_id = store.add_request(command, arguments)
        holder = f"the service (PID {pid})" if pid else "the service"
        print(f"{holder} holds the lock: it carries this `{command}` out; waiting for it…", file=sys.stderr,
              flush=True)
        told_started = False
        try:
            while True:
                started, finished, code, output = store.request_state(request_id)
                if finished:
                    if output:
                        print(output, flush=True)
                    return EXIT_OK if code is None else code
                if started and not told_started:
                    print(f"{holder} has started it…", file=sys.stderr, flush=True)
                    told_started = True
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            withdrawn = store.cancel_request(request_id)
            print("interrupted: " + ("the request was withdrawn" if withdrawn else
                                     "the service has started it and finishes it; `b24sync status` shows the result"),
                  file=sys.stderr, flush=True)
            return INTERRUPTED
    finally:
        store.close()
