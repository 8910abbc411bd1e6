"""The one-shot commands: sync, catalog, setup, status, check, retry, resync, conflicts. Each returns its exit code.

Every command validates the config first (exit 2 with every problem listed),
takes the process lock when it writes (exit 4 with the holder's PID), turns
errors into one actionable line (exit 3 when a system cannot be reached or
refuses us), and ends with a summary.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from b24sync.config import Config, ConfigError, load_config
from b24sync.errors import (
    EXIT_CONFIG,
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    B24SyncError,
    UsageError,
    describe,
    exit_code,
)
from b24sync.logs import configure_logging
from b24sync.onec import selftest
from b24sync.progress import Progress
from b24sync.store.lock import LockHeldError
from b24sync.store.store import Store
from b24sync.sync.catalog import sync_catalog
from b24sync.sync.fields import customer_field_specs, deal_field_specs
from b24sync.sync.report import CycleReport
from b24sync.wiring import BUCKET_LEFT, Parts, build, connect, lock_for

# where a command's lines go: the terminal, or (a command the service carries out) the request's output
_OUTPUT: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("b24sync_output", default=None)
_REPORTS: contextvars.ContextVar[list[CycleReport] | None] = contextvars.ContextVar("b24sync_reports", default=None)

# commands the running service carries out for an administrator instead of refusing them (exit 4)
SERVICE_COMMANDS = ("sync", "retry", "resync", "catalog", "conflicts", "setup")


def say(text: str = "") -> None:
    collected = _OUTPUT.get()
    if collected is not None:
        collected.append(text)
    else:
        print(text, flush=True)


def run_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(config.logging.level, config.logging.format)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.command == "notify":
        return notify_test(config)
    if args.command == "config":
        if args.action == "show":
            say(show_config(config))
        else:  # validate: loading it was the check
            say(f"{config.source} is valid")
        return EXIT_OK
    try:
        if args.command == "status":
            return status(config, as_json=args.json)
        if args.command == "check":
            return check(config, as_json=getattr(args, "json", False), write_probe=getattr(args, "write_probe", False))
        if args.command == "conflicts" and args.action != "resolve":
            return conflicts(config, as_json=args.json)
    except B24SyncError as error:  # a state file b24sync cannot read, for one
        print(describe(error), file=sys.stderr)
        return exit_code(error)
    if args.command == "state":
        try:
            return state_repair(config, args)
        except B24SyncError as error:
            print(describe(error), file=sys.stderr)
            return exit_code(error)
    try:
        parts = build(config)
    except LockHeldError as error:
        if not error.service or args.command not in SERVICE_COMMANDS:
            print(describe(error), file=sys.stderr)
            return exit_code(error)
        from b24sync.service_requests import through_service

        try:
            return through_service(config, args.command, _arguments(args), error.pid)
        except B24SyncError as failure:  # the state file b24sync would queue the request in, for one
            print(describe(failure), file=sys.stderr)
            return exit_code(failure)
    except B24SyncError as error:
        print(describe(error), file=sys.stderr)
        return exit_code(error)
    try:
        return HANDLERS[args.command](parts, args)
    except B24SyncError as error:
        print(describe(error), file=sys.stderr)
        return exit_code(error)
    finally:
        parts.close()


def state_repair(config: Config, args: argparse.Namespace) -> int:
    """Move a damaged state file aside, bind the documents again by their deal marker, then sync once."""
    from b24sync.sync.repair import is_damaged, move_aside, rebuild_bindings

    lock = lock_for(config).acquire()  # the service must be stopped: it would write to the file being moved
    try:
        path = Path(config.state_path)
        if path.exists() and not is_damaged(path) and not args.force:
            say(f"the state file {path} is not damaged: nothing to repair (--force rebuilds it anyway, and "
                f"forgets its failures, conflicts and reports)")
            return EXIT_OK
        if path.exists():
            aside = move_aside(path, datetime.now())
            say(f"moved the state file aside: {aside}")
        parts = build(config, lock=lock)
    except BaseException:
        lock.release()
        raise
    try:
        bound = rebuild_bindings(config, parts.bitrix, parts.onec, parts.store)
        say(f"bound {bound} deals again to the documents that carry their marker in 1C")
        push = parts.engine.push(full=True, confirm_bulk=args.confirm_bulk)
        pull = parts.engine.pull(confirm_bulk=args.confirm_bulk)
        return _print([push, pull])
    finally:
        parts.close()


def notify_test(config: Config) -> int:
    """`b24sync notify --test`: one message to every notify.urls target."""
    import socket

    from b24sync.alerts import Alerts

    alerts = Alerts(config.notify)
    if not alerts.enabled:
        say("no alert targets: add Apprise URLs under 'notify.urls' (tgram://…, mailtos://…, ntfys://…, json://…)")
        return EXIT_CONFIG
    delivered = alerts.send("b24sync: test message", f"A test from b24sync on {socket.gethostname()}: alerts "
                                                     f"reach you.")
    say(f"test message sent to {len(config.notify.urls)} target(s)" if delivered else
        "a target refused the test message; the log says which (check the URL and the service's token)")
    return EXIT_OK if delivered else EXIT_UNREACHABLE


def show_config(config: Config) -> str:
    """The effective config as YAML, keyed as the file is (it validates as a config of its own): every default
    filled in, the state file as resolved, the webhook's code, the 1C password and the alert URLs masked."""
    import yaml

    return yaml.safe_dump(config.effective, allow_unicode=True, sort_keys=False, default_flow_style=False).rstrip()


def _arguments(args: argparse.Namespace) -> dict[str, Any]:
    """A command's options as the service is given them (its own config file stands)."""
    local = ("config", "config_first", "verbose", "quiet", "log_level", "log_format")  # this process's own
    return {key: value for key, value in vars(args).items() if key not in local}


def carry_out(parts: Parts, command: str, arguments: dict[str, Any]) -> tuple[int, str, list[CycleReport]]:
    """Run a command inside the service for a waiting administrator: its exit code, what it said, and the
    cycles it ran (the service alerts on them as on its own)."""
    lines: list[str] = []
    reports: list[CycleReport] = []
    token, reports_token = _OUTPUT.set(lines), _REPORTS.set(reports)
    try:
        code = HANDLERS[command](parts, argparse.Namespace(config=None, **arguments))
    except B24SyncError as error:
        lines.append(describe(error))
        code = exit_code(error)
    finally:
        _OUTPUT.reset(token)
        _REPORTS.reset(reports_token)
    return code, "\n".join(lines), reports


def _print(reports: list[CycleReport], as_json: bool = False) -> int:
    collected = _REPORTS.get()
    if collected is not None:
        collected.extend(reports)
    code = EXIT_OK if all(report.ok for report in reports) else EXIT_ITEMS_FAILED
    if as_json:  # one summary object (sync --json)
        say(json.dumps({"cycles": [_report_json(report) for report in reports], "exit_code": code,
                        "finished_at": _when(datetime.now(UTC).timestamp())}, ensure_ascii=False, indent=2))
        return code
    for report in reports:
        say(report.summary())
        for line in report.planned:
            say(f"  would {line}")
        for deal_id, reason in report.failed.items():
            say(f"  deal {deal_id} failed: {reason}")
    return code


def _report_json(report: CycleReport) -> dict[str, Any]:
    counts = ("listed", "created", "recovered", "updated", "closed", "written_back", "stage_moves", "conflicts",
              "missing", "deals_deleted")
    return {"job": report.job, "dry_run": report.dry_run, **{name: getattr(report, name) for name in counts},
            "failed": [{"deal_id": deal_id, "code": report.codes.get(deal_id, ""), "reason": reason}
                       for deal_id, reason in report.failed.items()],
            "planned": report.planned, "held": report.held or None, "summary": report.summary()}


def sync(parts: Parts, args: argparse.Namespace) -> int:
    unknown = _unknown_deals(parts, args.deal) if args.deal else []
    progress = Progress(sys.stderr, "deals")
    parts.engine.progress = progress
    try:
        push = parts.engine.push(full=args.full, deal_ids=args.deal, dry_run=args.dry_run,
                                 confirm_bulk=args.confirm_bulk)
        progress.finish()
        pull = parts.engine.pull(dry_run=args.dry_run, deal_ids=args.deal, confirm_bulk=args.confirm_bulk)
    finally:
        progress.finish()
        parts.engine.progress = None
    code = _print([push, pull], as_json=getattr(args, "json", False))
    return EXIT_ITEMS_FAILED if unknown and code == EXIT_OK else code


def catalog(parts: Parts, args: argparse.Namespace) -> int:
    report = sync_catalog(parts.onec, parts.bitrix, parts.store, parts.config.sync.article_property, args.dry_run,
                          parts.config.sync.price_type)
    say(report.summary())
    for line in report.planned:
        say(f"  would {line}")
    return EXIT_OK


def setup(parts: Parts, args: argparse.Namespace) -> int:
    fields = parts.config.sync.fields
    for entity, specs, where in (("deal", deal_field_specs(fields), ""),
                                 ("contact", customer_field_specs(fields), " on contacts"),
                                 ("company", customer_field_specs(fields), " on companies")):
        existing = parts.bitrix.userfields(entity)
        for spec in specs:
            if spec.name in existing:
                kind = existing[spec.name]["USER_TYPE_ID"]
                note = "" if spec.fits(kind) else f" — but its type is {kind}, b24sync expects {spec.user_type}"
                say(f"exists   {spec.name}{where} ({spec.label}){note}")
            elif args.dry_run:
                say(f"would create {spec.name}{where} ({spec.user_type}, «{spec.label}»)")
            else:
                parts.bitrix.ensure_userfield(spec, existing, entity)
                say(f"created  {spec.name}{where} ({spec.user_type}, «{spec.label}»)")
    return EXIT_OK


def retry(parts: Parts, args: argparse.Namespace) -> int:
    count = parts.store.make_due(args.deal)
    if args.deal and not count:
        say(f"deal {args.deal} has nothing to retry: no failure is recorded for it (`b24sync status` lists the "
            f"failed deals; `b24sync resync --deal {args.deal}` compares it with 1C)")
        return EXIT_ITEMS_FAILED
    say(f"{count} failed deal(s) will be retried at the next cycle")
    return EXIT_OK


def _unknown_deals(parts: Parts, deal_ids: list[int]) -> list[int]:
    """Of the deals a command names, those the portal does not have (a typo, a deleted deal): said, not ignored."""
    unknown = sorted(set(deal_ids) - parts.bitrix.existing_deal_ids(deal_ids))
    for deal_id in unknown:
        say(f"deal {deal_id}: Bitrix24 has no such deal (deleted, or a wrong ID); nothing was done for it")
    return unknown


def resync(parts: Parts, args: argparse.Namespace) -> int:
    """Compare one deal with its document in 1C and bring them in step; with --recreate, a document deleted in 1C
    is created anew."""
    if _unknown_deals(parts, [args.deal]) and parts.store.binding_for_deal(args.deal) is None:
        return EXIT_ITEMS_FAILED
    push = parts.engine.push(deal_ids=[args.deal], force=True, recreate=args.recreate)
    pull = parts.engine.pull(deal_ids=[args.deal])
    return _print([push, pull])


def resolve(parts: Parts, args: argparse.Namespace) -> int:
    """`conflicts resolve --deal N --keep bitrix24|1c`: overwrite the document from the deal, or accept 1C's."""
    if not parts.store.open_conflicts(args.deal):
        raise UsageError(f"deal {args.deal} has no open conflict (`b24sync conflicts` lists them)")
    push = parts.engine.push(deal_ids=[args.deal], keep=args.keep)
    if parts.store.open_conflicts(args.deal):
        _print([push])
        say(f"deal {args.deal}: the conflict is still open")
        return EXIT_ITEMS_FAILED
    say(f"deal {args.deal}: conflict resolved, " + ("the document in 1C now follows the deal" if args.keep ==
                                                    "bitrix24" else "1C's version is the new baseline"))
    return _print([push])


def conflicts(config: Config, as_json: bool) -> int:
    """The open conflicts: deal, document, what differs, since when (reads the store, never writes)."""
    if not Path(config.state_path).exists():
        say("no open conflicts (no cycle has run yet)")
        return EXIT_OK
    store = Store(config.state_path, read_only=True)
    try:
        rows = [{"deal_id": item.deal_id, "document": item.onec_ref, "since": _when(item.created_at),
                 "description": item.description} for item in store.open_conflicts()]
        bindings = {row["deal_id"]: store.binding_for_deal(row["deal_id"]) for row in rows}
    finally:
        store.close()
    if as_json:
        say(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        say("no open conflicts")
        return EXIT_OK
    say("DEAL      DOCUMENT      SINCE                WHAT DIFFERS")
    for row in rows:
        binding = bindings.get(row["deal_id"])
        number = binding.number if binding else "—"
        say(f"{row['deal_id']:<9} {number:<13} {_shown(row['since']):<20} {row['description']}")
    say("")
    say("resolve one with: b24sync conflicts resolve --deal N --keep bitrix24   (the deal overwrites the document)")
    say("              or: b24sync conflicts resolve --deal N --keep 1c         (1C's document is kept as it is)")
    return EXIT_OK


def _when(seconds: float | None) -> str | None:
    """A moment as ISO 8601 with the server's offset (`--json`); None when there is none."""
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, UTC).astimezone().isoformat(timespec="seconds")


def _shown(moment: str | None) -> str:
    """The same moment for a table: local date and time, without the offset."""
    return moment[:19].replace("T", " ") if moment else "—"


def status(config: Config, as_json: bool) -> int:
    """Reads the state store read-only (no lock needed: SQLite readers never block the writer in WAL mode)."""
    if not Path(config.state_path).exists():
        if as_json:
            say(json.dumps({"state": None, "jobs": {}}, indent=2))
        else:
            say(f"(no cycle has run yet: there is no state file at {config.state_path})")
        return EXIT_OK
    store = Store(config.state_path, read_only=True)
    try:
        runs = store.last_runs()
        data: dict[str, Any] = {
            "jobs": {job: {"last_run": _when(run.started_at), "duration_s": round(run.finished_at - run.started_at, 1),
                           "result": run.result, "summary": run.summary} for job, run in runs.items()},
            "watermarks": {name: value for name, value in store.watermarks().items() if name != BUCKET_LEFT},
            "bindings": store.count_bindings(),
            "failures": [{"deal_id": item.deal_id, "code": item.code, "reason": item.reason, "detail": item.error,
                          "attempts": item.attempts, "next_retry": _when(item.next_retry_at)}
                         for item in store.failures()],
            "conflicts": [{"deal_id": item.deal_id, "document": item.onec_ref, "since": _when(item.created_at),
                           "description": item.description} for item in store.open_conflicts()],
            "unreachable": {system: {"since": _when(since), "error": error}
                            for system, (since, error) in store.unreachable().items()},
            "missing_documents": [{"deal_id": item.deal_id, "document": item.onec_ref, "number": item.number,
                                   "state": item.document_state} for item in store.missing_documents()],
            "deals_deleted": [{"deal_id": item.deal_id, "document": item.onec_ref, "number": item.number,
                               "closed_by_b24sync": item.closed_by_b24sync} for item in store.deleted_deals()],
        }
    finally:
        store.close()
    if as_json:
        say(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK if not data["failures"] else EXIT_ITEMS_FAILED  # as the table's exit code
    say("JOB                 LAST RUN             TOOK    RESULT        SUMMARY")
    for job, run in data["jobs"].items() or {}:
        say(f"{job:<19} {_shown(run['last_run']):<20} {run['duration_s']:>5}s  {run['result']:<13} {run['summary']}")
    if not data["jobs"]:
        say("(no cycle has run yet)")
    say("")
    for name, value in data["watermarks"].items():
        say(f"watermark {name}: {value}")
    say(f"bindings: {data['bindings']['total']} ({data['bindings']['open']} open)")
    for system, info in data["unreachable"].items():
        say(f"UNREACHABLE {system} since {_shown(info['since'])}: {info['error']}")
    if data["failures"]:
        say("")
        say("FAILED DEAL  ATTEMPTS  NEXT RETRY           REASON")
        for item in data["failures"]:
            say(f"{item['deal_id']:<12} {item['attempts']:<9} {_shown(item['next_retry']):<20} {item['reason']}")
            if item["detail"] and item["detail"] != item["reason"] and not item["detail"].startswith(item["reason"]):
                say(f"{'':<43} detail: {item['detail'][:300]}")
    if data["conflicts"]:
        say("")
        say("CONFLICT ON DEAL  SINCE                DESCRIPTION")
        for item in data["conflicts"]:
            say(f"{item['deal_id']:<17} {_shown(item['since']):<20} {item['description']}")
        say("(`b24sync conflicts` shows them; `b24sync conflicts resolve --deal N --keep bitrix24|1c` ends one)")
    if data["missing_documents"]:
        say("")
        say("MISSING IN 1C  DOCUMENT       STATE")
        for item in data["missing_documents"]:
            state = "deleted" if item["state"] == "deleted" else "marked for deletion"
            say(f"deal {item['deal_id']:<8} {item['number']:<14} {state} (b24sync resync --deal {item['deal_id']} "
                f"--recreate makes a new one)")
    if data["deals_deleted"]:
        say("")
        say("DELETED IN BITRIX24  DOCUMENT IN 1C")
        for item in data["deals_deleted"]:
            outcome = "closed by b24sync" if item["closed_by_b24sync"] else "left as it is"
            say(f"deal {item['deal_id']:<15} {item['number']:<14} {outcome} (no longer followed; a deal restored "
                f"from the recycle bin is followed again)")
    return EXIT_OK if not data["failures"] else EXIT_ITEMS_FAILED




def check(config: Config, as_json: bool = False, write_probe: bool = False) -> int:
    """Validate the config (done by now), then check both systems live; one line per check. Read-only, except
    that `write_probe` lets the deal-marker check write one probe document to 1C (marked for deletion)."""
    from b24sync.sync.fields import payment_option_ids

    results: list[tuple[bool, str, str]] = [(True, "config", f"{config.source} is valid")]
    unreachable: list[str] = []  # checks that failed because a system refused or could not be reached
    bitrix, onec = connect(config, max_retries=1)

    def attempt(name: str, action: Any) -> Any:
        try:
            outcome = action()
        except B24SyncError as error:
            results.append((False, name, str(error)))
            if exit_code(error) == EXIT_UNREACHABLE:
                unreachable.append(name)
            return None
        if isinstance(outcome, str):
            results.append((True, name, outcome))
        elif isinstance(outcome, list):
            results.append((not outcome, name, "; ".join(outcome) if outcome else "ok"))
        return outcome

    scopes = attempt("bitrix24 webhook", lambda: bitrix.scopes())
    if scopes is not None:
        missing = {"crm"} - set(scopes)
        results.append((not missing, "bitrix24 webhook",
                        f"works, scopes {', '.join(sorted(scopes))}" + (
                            "" if "catalog" in scopes else "; without 'catalog' the catalog job writes products "
                                                           "without 1C's VAT rate and unit") if not missing else
                        "the webhook lacks the 'crm' scope: edit it in Bitrix24 and tick crm (and disk)"))
        for pipeline in config.sync.pipelines:
            stages = attempt(f"pipeline {pipeline.category_id}", lambda p=pipeline: bitrix.deal_stages(p.category_id))
            if stages is None:
                continue
            unknown = [stage for stage in pipeline.trigger_stages + tuple(
                filter(None, (pipeline.stage_on_paid, pipeline.stage_on_shipped))) if stage not in stages]
            results.append((not unknown, f"pipeline {pipeline.category_id}",
                            "stages exist" if not unknown else
                            f"no stage {', '.join(unknown)} in pipeline {pipeline.category_id} (known: "
                            f"{', '.join(stages)}); fix 'sync.pipelines'"))
        fields = attempt("deal fields", lambda: bitrix.deal_userfields())
        if fields is not None:
            problems = []
            for spec in deal_field_specs(config.sync.fields):
                if spec.name not in fields:
                    problems.append(f"{spec.name} is missing (run `b24sync setup`)")
                elif not spec.fits(fields[spec.name]["USER_TYPE_ID"]):
                    problems.append(f"{spec.name} is {fields[spec.name]['USER_TYPE_ID']}, not {spec.user_type}")
            if config.sync.fields.payment_status in fields:
                options = payment_option_ids(fields[config.sync.fields.payment_status])
                if not {"paid", "partial", "unpaid"} <= set(options):
                    problems.append(f"{config.sync.fields.payment_status} lacks the options paid/partial/unpaid")
            results.append((not problems, "deal fields", "; ".join(problems) or "all exist with the right types"))
    if attempt("1c base", lambda: onec.metadata(refresh=True) and f"answers at {onec.client.base_label}"):
        attempt("1c publication", onec.publication_problems)
        attempt("1c defaults", lambda: onec.resolved() and (
            "organisation, currency, warehouse, agreement and the deal marker resolve" if onec.profile.uses_partners
            else "organisation, currency and the deal marker resolve"))
        for index, pipeline in enumerate(config.sync.pipelines):
            if pipeline.onec is None:
                continue
            chosen = ", ".join(key for key in ("organisation", "warehouse", "agreement", "price_type")
                               if getattr(pipeline.onec, key))
            attempt(f"1c choices of pipeline {pipeline.category_id}",
                    lambda pipeline=pipeline, chosen=chosen, index=index: onec.choices(pipeline, index) and
                    f"{chosen or 'contract'} resolve")
        if config.sync.price_type:
            attempt("1c price type", lambda: f"«{config.sync.price_type}»: "
                                             f"{len(onec.prices(config.sync.price_type)[1])} latest prices")
        managers = {**{str(user): name for user, name in config.onec.managers.items()},
                    **({"default": config.onec.default_manager} if config.onec.default_manager else {})}
        if managers:
            attempt("1c managers", lambda: [onec.manager(int(user) if user.isdigit() else None) for user in managers]
                    and f"{len(managers)} resolve to 1C users")
        for behaviour in selftest.behaviours(onec, write_probe=write_probe):  # what the base really does
            results.append((behaviour.ok, behaviour.name, behaviour.detail))
    onec.client.close()  # its 1C session ends now, not at the session's timeout
    failed = [result for result in results if not result[0]]
    code = EXIT_OK if not failed else EXIT_UNREACHABLE if unreachable else EXIT_CONFIG  # 3: down; 2: fix the setup
    if as_json:
        say(json.dumps({"checks": [{"name": name, "ok": ok, "detail": text} for ok, name, text in results],
                        "ok": len(results) - len(failed), "total": len(results), "exit_code": code,
                        "finished_at": _when(datetime.now(UTC).timestamp())}, ensure_ascii=False, indent=2))
        return code
    for ok, name, text in results:
        say(f"{'ok  ' if ok else 'FAIL'}  {name}: {text}")
    say(f"{len(results) - len(failed)} of {len(results)} checks ok")
    return code


HANDLERS = {"sync": sync, "setup": setup, "retry": retry, "resync": resync, "catalog": catalog,
            "conflicts": resolve}
