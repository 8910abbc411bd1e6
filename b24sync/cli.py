"""The command line: `b24sync <command>`.

Exit codes: 0 fine, 1 some items failed, 2 config or usage error, 3 cannot reach
a system, 4 lock held.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from b24sync import __version__
from b24sync.errors import EXIT_CONFIG, EXIT_OK
from b24sync.systemd import UNIT_NAMES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="b24sync",
        description="Keeps Bitrix24 CRM deals and 1C:Enterprise documents in step.",
        epilog="Exit codes: 0 fine, 1 some items failed, 2 config or usage error, 3 cannot reach a system, "
               "4 another b24sync holds the lock.",
    )
    parser.add_argument("--version", action="version", version=f"b24sync {__version__}")
    parser.add_argument("-c", "--config", dest="config_first", metavar="CONFIG",
                        help="config file, before the command as after it (default /etc/b24sync/config.yaml)")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG (overrides logging.level)")
    loudness.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    loudness.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), type=str.upper,
                          help="log level, overriding logging.level")
    parser.add_argument("--log-format", choices=("auto", "console", "json"), help="overrides logging.format")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    emulate = commands.add_parser("emulate", help="serve an emulated Bitrix24 portal for tests and trials")
    emulate.add_argument("-c", "--config", help=argparse.SUPPRESS)
    systems = emulate.add_subparsers(dest="system", metavar="SYSTEM", required=True)
    portal = systems.add_parser("bitrix24", help="an emulated Bitrix24 portal; prints its webhook URL first")
    portal.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    portal.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    portal.add_argument("--generate", type=int, default=0, metavar="N", help="generate N deals with their data")
    portal.add_argument("--seed", type=int, default=1, help="dataset seed (default 1)")
    portal.add_argument("--rate", type=float, default=2.0, help="leaky bucket drain per second (default 2)")
    portal.add_argument("--burst", type=int, default=50, help="leaky bucket size (default 50)")
    portal.add_argument("--no-limits", action="store_true", help="switch the request and time limits off")
    portal.add_argument("--latency-ms", type=int, default=0, help="added latency per request")
    portal.add_argument("--tz", default="+03:00", help="the portal's UTC offset (default +03:00)")
    portal.add_argument("--webhook-code", default=None, help="webhook code (default: random)")

    onec = systems.add_parser("onec", help="an emulated 1C base over standard OData; prints its OData root first")
    onec.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    onec.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    onec.add_argument("--profile", choices=("ut11", "bp30"), default="ut11", help="the configuration (default ut11)")
    onec.add_argument("--generate", type=int, default=0, metavar="N", help="generate the data of N deals")
    onec.add_argument("--seed", type=int, default=1, help="dataset seed (default 1)")
    onec.add_argument("--user", default="odata.user", help="the 1C user (default odata.user)")
    onec.add_argument("--password", default="secret", help="the 1C user's password (default secret)")
    onec.add_argument("--vat", choices=("catalog", "enum"), default="catalog",
                      help="ut11 row VAT as СтавкаНДС_Key (11.5, default) or the СтавкаНДС enum (older 11.x)")
    onec.add_argument("--latency-ms", type=int, default=0, help="added latency per request")
    onec.add_argument("--latency", default="off", metavar="off|realistic|FILE",
                      help="answer at a real base's pace: reads, writes and postings of different lengths, one "
                           "request at a time per session (realistic; a YAML file sets other figures)")

    run = commands.add_parser("run", help="run as a service: every job at its interval until stopped")
    run.add_argument("-c", "--config", help="config file (default $B24SYNC_CONFIG or /etc/b24sync/config.yaml)")

    sync = commands.add_parser("sync", help="run one full cycle now (Bitrix24 → 1C, then 1C → Bitrix24)")
    sync.add_argument("-c", "--config", help="config file (default $B24SYNC_CONFIG or /etc/b24sync/config.yaml)")
    sync.add_argument("--deal", type=int, action="append", metavar="ID", help="only this deal (repeatable)")
    sync.add_argument("--full", action="store_true", help="ignore the watermark: look at every deal (a backfill)")
    sync.add_argument("--dry-run", action="store_true", help="print what would be done, write nothing anywhere")
    sync.add_argument("--confirm-bulk", action="store_true",
                      help="allow more creates than 'sync.guards.max_creates_per_cycle' in this run")
    sync.add_argument("--json", action="store_true", help="print one JSON summary instead of lines")

    setup = commands.add_parser("setup", help="create the deal fields b24sync writes (idempotent)")
    setup.add_argument("-c", "--config", help="config file")
    setup.add_argument("--dry-run", action="store_true", help="only print what would be created")

    check = commands.add_parser("check", help="validate the config, then check Bitrix24 and 1C live")
    check.add_argument("-c", "--config", help="config file")
    check.add_argument("--json", action="store_true", help="print one JSON summary instead of lines")
    check.add_argument("--write-probe", action="store_true",
                       help="when no 1C document carries a deal marker yet, write one unposted probe document to "
                            "test the search by marker (it is marked for deletion at once)")

    status = commands.add_parser("status", help="show jobs, watermarks, bindings, failures and conflicts")
    status.add_argument("-c", "--config", help="config file")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")

    catalog = commands.add_parser("catalog", help="export 1C nomenclature to Bitrix24 CRM products now")
    catalog.add_argument("-c", "--config", help="config file")
    catalog.add_argument("--dry-run", action="store_true", help="only print what would be created or updated")

    retry = commands.add_parser("retry", help="make failed deals due now (they run at the next cycle)")
    retry.add_argument("-c", "--config", help="config file")
    retry.add_argument("--deal", type=int, metavar="ID", help="only this deal")

    resync = commands.add_parser("resync", help="compare one deal with its 1C document and bring them in step")
    resync.add_argument("-c", "--config", help="config file")
    resync.add_argument("--deal", type=int, required=True, metavar="ID", help="the deal")
    resync.add_argument("--recreate", action="store_true",
                        help="the deal's document was deleted in 1C: create a new one")

    conflicts = commands.add_parser("conflicts", help="list the open conflicts, or resolve one")
    conflicts.add_argument("-c", "--config", help="config file")
    conflicts.add_argument("--json", action="store_true", help="print JSON instead of a table")
    conflict_actions = conflicts.add_subparsers(dest="action", metavar="ACTION")
    resolve = conflict_actions.add_parser("resolve", help="end one deal's conflict")
    resolve.add_argument("-c", "--config", default=argparse.SUPPRESS, help="config file")
    resolve.add_argument("--deal", type=int, required=True, metavar="ID", help="the deal")
    resolve.add_argument("--keep", choices=("bitrix24", "1c"), required=True,
                         help="bitrix24: the deal overwrites the document (unposting it if needed); "
                              "1c: the document stays as it is and becomes the new baseline")

    everything = systems.add_parser("all", help="both emulators on one dataset, and a config that points at them")
    everything.add_argument("--generate", type=int, default=200, metavar="N", help="deals to generate (default 200)")
    everything.add_argument("--seed", type=int, default=1, help="dataset seed (default 1)")
    everything.add_argument("--profile", choices=("ut11", "bp30"), default="ut11", help="the 1C configuration")
    everything.add_argument("--rate", type=float, default=2.0, help="portal requests per second (default 2)")
    everything.add_argument("--burst", type=int, default=50, help="portal burst (default 50)")
    everything.add_argument("--latency", default="off", metavar="off|realistic|FILE",
                            help="1C at a real base's pace (as for `emulate onec`)")
    everything.add_argument("--config-out", required=True, metavar="FILE",
                            help="write a complete config here (the state file goes next to it)")

    completion = commands.add_parser("completion", help="print a shell completion script (bash, zsh or fish)")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))

    notify = commands.add_parser("notify", help="alerts: send a test message to every notify.urls target")
    notify.add_argument("-c", "--config", help="config file")
    notify.add_argument("--test", action="store_true", required=True, help="send the test message")

    config_command = commands.add_parser("config", help="look at the config file without running anything")
    config_actions = config_command.add_subparsers(dest="action", metavar="ACTION", required=True)
    validate = config_actions.add_parser("validate", help="check the file offline: every problem, exit 2 if any")
    validate.add_argument("-c", "--config", help="config file")
    show = config_actions.add_parser("show", help="print the effective values (defaults filled in, secrets masked)")
    show.add_argument("-c", "--config", help="config file")
    config_actions.add_parser("generate", help="print the commented example config, made from the schema")

    units = commands.add_parser("systemd-units", help="print the systemd units (b24sync.service, b24sync@.service)")
    units.add_argument("--unit", choices=UNIT_NAMES, help="print only this one")
    commands.add_parser("manpage", help="print the b24sync(1) man page (roff), made from this parser")

    state = commands.add_parser("state", help="look after the state file")
    state_actions = state.add_subparsers(dest="action", metavar="ACTION", required=True)
    repair = state_actions.add_parser(
        "repair", help="move a damaged state file aside and bind the documents in 1C again by their deal marker")
    repair.add_argument("-c", "--config", help="config file")
    repair.add_argument("--force", action="store_true",
                        help="rebuild even a state file that is not damaged (its failures and conflicts are lost)")
    repair.add_argument("--confirm-bulk", action="store_true",
                        help="let the sync after the rebuild go past the bulk guards")

    demo = commands.add_parser("demo", help="run the end-to-end demo on the emulators")
    demo.add_argument("-c", "--config", help=argparse.SUPPRESS)
    demo.add_argument("--deals", type=int, default=60, help="deals to generate (default 60)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; Ctrl+C says "interrupted" and exits 130, a closed pipe (`status | head`) ends quietly."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more can be written; no traceback at exit either
        return EXIT_OK


def _main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None) is None and args.config_first:
        args.config = args.config_first  # `b24sync -c FILE status` as `b24sync status -c FILE`
    from b24sync.logs import override_logging

    override_logging("DEBUG" if args.verbose else "WARNING" if args.quiet else args.log_level, args.log_format)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    if args.command == "emulate":
        if args.system == "all":
            return _emulate_all(args)
        return _emulate_onec(args) if args.system == "onec" else _emulate(args)
    if args.command == "completion":
        from b24sync.completion import script

        print(script(parser, args.shell), end="")
        return EXIT_OK
    if args.command == "config" and args.action == "generate":
        from b24sync.config import EXAMPLE_HEADER, SCHEMA
        from b24sync.config_example import generate_example

        print(generate_example(SCHEMA, EXAMPLE_HEADER), end="")
        return EXIT_OK
    if args.command == "systemd-units":
        from b24sync.systemd import unit_files

        for name, text in unit_files().items():
            if args.unit in (None, name):
                print(text if args.unit else f"# --- {name}\n{text}", end="")
        return EXIT_OK
    if args.command == "manpage":
        from b24sync.manpage import manpage

        print(manpage(parser), end="")
        return EXIT_OK
    if args.command == "demo":
        from b24sync.demo import run_demo

        return run_demo(deals=args.deals)
    if args.command == "run":
        from b24sync.daemon import Daemon

        return Daemon(args.config).run()
    from b24sync.commands import run_command

    return run_command(args)
    parser.error(f"unknown command {args.command}")
    return EXIT_CONFIG


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT; install it before telling anyone we are up, so no signal is missed."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _wait(stop: threading.Event) -> None:
    while not stop.wait(0.5):
        pass


def _emulate(args: argparse.Namespace) -> int:
    from b24sync_emulators.bitrix24.server import start_portal

    stop = _stop_on_signals()
    running = start_portal(host=args.host, port=args.port, generate_deals=args.generate, seed=args.seed,
                           rate=args.rate, burst=args.burst, limits=not args.no_limits,
                           latency_ms=args.latency_ms, tz=args.tz, webhook_code=args.webhook_code)
    return _serve(running, stop, [running.webhook_url],
                  f"# Bitrix24 portal emulator: {len(running.portal.deals)} deals; admin at "
                  f"{running.root}/_emulator/stats; stop with Ctrl+C")


def _serve(running: object, stop: threading.Event, first_lines: list[str], note: str) -> int:
    """Announce what is served (the first lines of stdout are for scripts), then serve until a signal."""
    for line in first_lines:
        print(line, flush=True)
    print(note, file=sys.stderr, flush=True)
    try:
        _wait(stop)
    finally:
        running.stop()  # type: ignore[attr-defined]
    return EXIT_OK


def _emulate_onec(args: argparse.Namespace) -> int:
    from b24sync_emulators.onec.latency import load_profile
    from b24sync_emulators.onec.schema import UT11_VAT_CATALOG, UT11_VAT_ENUM
    from b24sync_emulators.onec.server import start_base

    try:
        latency = load_profile(args.latency)
    except ValueError as error:
        print(f"b24sync emulate onec: {error}", file=sys.stderr)
        return EXIT_CONFIG
    stop = _stop_on_signals()
    running = start_base(profile=args.profile, host=args.host, port=args.port, generate_deals=args.generate,
                         seed=args.seed, user=args.user, password=args.password,
                         vat_form=UT11_VAT_CATALOG if args.vat == "catalog" else UT11_VAT_ENUM,
                         latency_ms=args.latency_ms, latency=latency)
    return _serve(running, stop, [running.odata_root],
                  f"# 1C base emulator ({args.profile}): user {args.user!r}; admin at "
                  f"{running.root}/_emulator/stats; stop with Ctrl+C")


def _emulate_all(args: argparse.Namespace) -> int:
    from pathlib import Path

    from b24sync.sandbox import start_sandbox
    from b24sync_emulators.onec.latency import load_profile

    try:
        latency = load_profile(args.latency)
    except ValueError as error:
        print(f"b24sync emulate all: {error}", file=sys.stderr)
        return EXIT_CONFIG
    stop = _stop_on_signals()
    sandbox = start_sandbox(deals=args.generate, seed=args.seed, profile=args.profile, rate=args.rate,
                            burst=args.burst, latency=latency)
    config = sandbox.write_config(Path(args.config_out).resolve())
    return _serve(sandbox, stop, [sandbox.portal.webhook_url, sandbox.base.odata_root],
                  f"# config for b24sync: {config}\n# try: b24sync check --config {config}; "
                  f"b24sync sync --config {config}\n# alerts (notify.urls) arrive at "
                  f"{sandbox.inbox.server.root}/_emulator/alerts\n# stop with Ctrl+C")


if __name__ == "__main__":
    raise SystemExit(main())
