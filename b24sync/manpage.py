"""The b24sync(1) man page in roff, made from the command line's own parser so it never drifts from it."""

from __future__ import annotations

import argparse
from datetime import date

from b24sync import __version__

FILES = (
    ("/etc/b24sync/config.yaml", "the config (b24sync config generate prints a commented example)"),
    ("/etc/b24sync/NAME.yaml", "the config of the b24sync@NAME instance"),
    ("/var/lib/b24sync/state.db", "the state: bindings, watermarks, failures, conflicts (NAME/state.db for an "
                                  "instance)"),
)
ENVIRONMENT = (
    ("B24SYNC_CONFIG", "the config file when -c is not given"),
    ("B24SYNC_WEBHOOK_URL", "the Bitrix24 webhook URL, instead of bitrix24.webhook_url"),
    ("B24SYNC_ONEC_PASSWORD", "the 1C password, instead of onec.password"),
    ("CREDENTIALS_DIRECTORY", "files webhook_url and onec_password handed over by systemd's LoadCredential="),
)


def _roff(text: str) -> str:
    """Text safe in a roff line: backslashes and hyphens escaped, characters beyond ASCII as \\[uXXXX] (any
    groff reads them, with or without preconv), no line starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(char if ord(char) < 128 else f"\\[u{ord(char):04X}]" for char in text)
    return "\\&" + text if text.startswith((".", "'")) else text


def _usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().split()).removeprefix("usage: ")


def _options(parser: argparse.ArgumentParser, top: bool = False) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._HelpAction) and not top:
            continue  # said once, under OPTIONS
        flags = ", ".join(action.option_strings)
        if action.nargs != 0:
            shown = "{" + ",".join(map(str, action.choices)) + "}" if action.choices else None
            flags += " " + (action.metavar or shown or action.dest.upper())
        lines += [".TP", f"\\fB{_roff(flags)}\\fR", _roff(action.help or "")]
    return lines


def _commands(parser: argparse.ArgumentParser, path: str) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            full = f"{path} {name}".strip()
            lines += [".SS", _roff(f"b24sync {full}"), _roff(helps.get(name) or ""), ".PP",
                      f"\\fB{_roff(_usage(sub))}\\fR"]
            options = _options(sub)
            if options:
                lines += [".RS", *options, ".RE"]
            lines += _commands(sub, full)
    return lines


def manpage(parser: argparse.ArgumentParser, today: date | None = None) -> str:
    """The whole page: name, synopsis, options, every command with its own options, files, environment."""
    today = today or date.today()
    lines = [
        f'.TH B24SYNC 1 "{today.isoformat()}" "b24sync {__version__}" "User Commands"',
        ".SH NAME", "b24sync \\- keep Bitrix24 CRM deals and 1C:Enterprise documents in step",
        ".SH SYNOPSIS", f"\\fB{_roff(_usage(parser))}\\fR",
        ".SH DESCRIPTION", _roff(parser.description or ""),
        ".SH OPTIONS", *_options(parser, top=True),
        ".SH COMMANDS", *_commands(parser, ""),
        ".SH FILES",
    ]
    for path, what in FILES:
        lines += [".TP", f"\\fI{_roff(path)}\\fR", _roff(what)]
    lines.append(".SH ENVIRONMENT")
    for name, what in ENVIRONMENT:
        lines += [".TP", f"\\fB{name}\\fR", _roff(what)]
    lines += [".SH EXIT STATUS", _roff(parser.epilog or ""), ".SH SEE ALSO",
              "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1); the README in /opt/b24sync"]
    return "\n".join(lines) + "\n"
