"""config.example.yaml is generated from the schema, loads as it stands, and shows the defaults the code uses."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from b24sync import config as config_module
from b24sync.cli import _parser, main
from b24sync.config import EXAMPLE_HEADER, SCHEMA, load_config_text
from b24sync.config_example import generate_example
from b24sync.manpage import manpage
from b24sync.schema import REQUIRED, Key, Section

ROOT = Path(__file__).resolve().parent.parent


def _keys(section: Section, path: str = "") -> dict[str, Key]:
    found: dict[str, Key] = {}
    for name, spec in section.keys.items():
        full = f"{path}.{name}" if path else name
        found.update(_keys(spec, full) if isinstance(spec, Section) else {full: spec})
    return found


def test_the_shipped_example_is_the_generated_one() -> None:
    shipped = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    assert generate_example(SCHEMA, EXAMPLE_HEADER) == shipped, \
        "config.example.yaml is out of date: run  b24sync config generate > config.example.yaml"


def test_config_generate_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "generate"]) == 0  # no config file needed
    assert capsys.readouterr().out == (ROOT / "config.example.yaml").read_text(encoding="utf-8")


def test_the_example_loads_and_lists_every_key_with_a_comment() -> None:
    text = generate_example(SCHEMA, EXAMPLE_HEADER)
    config = load_config_text(text, "config.example.yaml", env={})
    assert config.onec.managers == {3: "Петрова Ольга", 5: "Смирнов Сергей"}
    assert config.invoices.bank["bik"] == "044525225"  # quoted: a leading zero survives
    lines = text.splitlines()
    for path in _keys(SCHEMA):
        name = path.rsplit(".", 1)[-1]
        at = next((index for index, line in enumerate(lines)
                   if re.fullmatch(rf"\s*(# )?{re.escape(name)}:.*", line)), None)
        assert at is not None, f"{path} is missing from the example"
        assert lines[at - 1].lstrip().startswith("#"), f"{path} has no comment above it"
    assert all(len(line) <= 120 for line in lines)


def test_the_commented_alternatives_load_when_uncommented() -> None:
    text = generate_example(SCHEMA, EXAMPLE_HEADER)
    text = text.replace("  webhook_url: https://", "  # webhook_url: https://")
    text = text.replace("  # webhook_url_file:", "  webhook_url_file:").replace("  # listen:", "  listen:")
    found = pytest.raises(config_module.ConfigError, load_config_text, text, "config.example.yaml", env={})
    # the only complaint is the file that does not exist here: the key itself is accepted
    assert str(found.value).splitlines() == [
        "config.example.yaml: at 'bitrix24.webhook_url_file': cannot read /etc/b24sync/webhook.url: "
        "No such file or directory"]


def test_the_dataclass_defaults_are_the_schemas() -> None:
    """The defaults live twice (the schema for the file, the dataclasses for code); they must agree."""
    pairs = [("bitrix24", config_module.Bitrix24Config), ("onec", config_module.OneCConfig),
             ("onec.defaults", config_module.OneCDefaults), ("sync.fields", config_module.DealFields),
             ("invoices", config_module.InvoicesConfig), ("daemon", config_module.DaemonConfig),
             ("notify", config_module.NotifyConfig), ("logging", config_module.LoggingConfig)]
    keys = _keys(SCHEMA)
    checked = 0
    for section, cls in pairs:
        for item in dataclasses.fields(cls):
            spec = keys.get(f"{section}.{item.name}")
            if spec is None or item.default is dataclasses.MISSING or spec.default is REQUIRED:
                continue
            default = tuple(spec.default) if isinstance(spec.default, list) else spec.default
            assert item.default == default, f"{section}.{item.name}: {item.default!r} != {spec.default!r}"
            checked += 1
    assert checked > 40


def test_systemd_units_prints_the_shipped_units(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["systemd-units", "--unit", "b24sync@.service"]) == 0
    assert capsys.readouterr().out == (ROOT / "systemd/b24sync@.service").read_text(encoding="utf-8")
    assert main(["systemd-units"]) == 0
    both = capsys.readouterr().out
    assert "# --- b24sync.service\n[Unit]" in both and "# --- b24sync@.service\n[Unit]" in both


def test_the_man_page_has_every_command_and_option() -> None:
    parser = _parser()
    page = manpage(parser)
    assert page.startswith(".TH B24SYNC 1 ")
    for command in ("run", "sync", "retry", "resync", "conflicts resolve", "config generate", "state repair",
                    "notify", "completion", "systemd\\-units"):
        assert f".SS\nb24sync {command}\n" in page, command
    for option in ("\\-\\-dry\\-run", "\\-\\-confirm\\-bulk", "\\-\\-deal", "\\-\\-json", "\\-\\-log\\-format"):
        assert option in page, option


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed here")
def test_the_man_page_renders_without_warnings(tmp_path: Path) -> None:
    page = tmp_path / "b24sync.1"
    page.write_text(manpage(_parser()), encoding="utf-8")
    done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
