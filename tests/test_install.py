"""scripts/install into a staging root, and the systemd units as systemd would read them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_install(destdir: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DESTDIR": str(destdir), "PYTHON": sys.executable}
    return subprocess.run(["bash", str(ROOT / "scripts" / "install")], capture_output=True, text=True,
                          env=environment, timeout=600)


def test_install_stages_everything_and_keeps_an_edited_config(tmp_path: Path) -> None:
    first = run_install(tmp_path)
    assert first.returncode == 0, first.stderr
    config = tmp_path / "etc/b24sync/config.yaml"
    assert config.exists() and oct(config.stat().st_mode & 0o777) == "0o640"
    assert "path: /var/lib/b24sync/state.db" in config.read_text(encoding="utf-8")
    assert (tmp_path / "usr/local/lib/systemd/system/b24sync.service").exists()
    assert (tmp_path / "usr/local/lib/systemd/system/b24sync@.service").exists()
    assert (tmp_path / "var/lib/b24sync").is_dir()
    binary = tmp_path / "opt/b24sync/venv/bin/b24sync"
    assert subprocess.run([str(binary), "--help"], capture_output=True, timeout=60).returncode == 0
    # the wheel carries the units and the schema the example is made from
    units = subprocess.run([str(binary), "systemd-units", "--unit", "b24sync.service"], capture_output=True,
                           text=True, timeout=60)
    assert units.stdout == (ROOT / "systemd/b24sync.service").read_text(encoding="utf-8")
    example = subprocess.run([str(binary), "config", "generate"], capture_output=True, text=True, timeout=60)
    assert example.stdout == (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    assert (tmp_path / "usr/local/share/man/man1/b24sync.1").read_text(encoding="utf-8").startswith(".TH B24SYNC")
    assert "b24sync check --config /etc/b24sync/config.yaml" in first.stdout

    config.write_text("# edited by the administrator\n", encoding="utf-8")
    second = run_install(tmp_path)
    assert second.returncode == 0, second.stderr
    assert config.read_text(encoding="utf-8") == "# edited by the administrator\n"
    assert "kept" in second.stdout


def test_units_have_the_promised_settings() -> None:
    unit = (ROOT / "systemd/b24sync.service").read_text(encoding="utf-8")
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=b24sync", "StateDirectory=b24sync",
                 "ConfigurationDirectory=b24sync", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectControlGroups=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "LockPersonality=yes",
                 "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service", "CapabilityBoundingSet="):
        assert line in unit, line
    for line in ("RestartPreventExitStatus=2", "TimeoutStartSec=90",
                 "ExecReload=/opt/b24sync/venv/bin/b24sync config validate --config /etc/b24sync/config.yaml",
                 "ProtectClock=yes", "ProtectKernelLogs=yes", "ProtectHostname=yes", "ProtectProc=invisible",
                 "ProcSubset=pid", "RestrictSUIDSGID=yes", "RemoveIPC=yes", "PrivateMounts=yes",
                 "SystemCallFilter=~@privileged @resources", "SystemCallErrorNumber=EPERM", "DevicePolicy=closed"):
        assert line in unit, line
    assert "TimeoutStartSec=infinity" not in unit
    template = (ROOT / "systemd/b24sync@.service").read_text(encoding="utf-8")
    assert "--config /etc/b24sync/%i.yaml" in template and "StateDirectory=b24sync/%i" in template
    assert "config validate --config /etc/b24sync/%i.yaml" in template


def runnable_units(folder: Path) -> list[tuple[str, Path]]:
    """Each shipped unit as systemd-analyze can load it here: an instance name for the template, a binary that
    exists in place of /opt/b24sync's."""
    units = []
    for name in ("b24sync.service", "b24sync@.service"):
        unit = folder / (name.replace("@", "@demo") if "@" in name else name)
        text = (ROOT / "systemd" / name).read_text(encoding="utf-8")
        unit.write_text(text.replace("/opt/b24sync/venv/bin/b24sync", "/bin/true"), encoding="utf-8")
        units.append((name, unit))
    return units


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_units_exposure_is_at_most_1_5(tmp_path: Path) -> None:
    for name, unit in runnable_units(tmp_path):
        done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)], capture_output=True,
                              text=True, timeout=60)
        if "--offline" in done.stderr and "unrecognized" in done.stderr:
            pytest.skip("this systemd-analyze has no --offline")
        level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
        assert level is not None, done.stdout[-500:] + done.stderr[-500:]
        assert float(level.group(1)) <= 1.5, (name, level.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    for _, unit in runnable_units(tmp_path):
        done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert "error" not in done.stderr.lower() or "Failed to" not in done.stderr, done.stderr


def test_the_constraints_pin_every_runtime_dependency_within_its_range() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    wanted = [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["metrics"]]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"constraints.txt lacks {requirement.name}"
        assert requirement.specifier.contains(pins[name]), (requirement, pins[name])
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
