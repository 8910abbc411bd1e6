"""The 1C emulator's latency profile: seeded, by kind of request, one request at a time per session."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from b24sync_emulators.onec.latency import REALISTIC, Latency, load_profile


def test_postings_take_longer_than_writes_and_writes_than_reads_and_a_seed_repeats_them() -> None:
    latency = Latency(REALISTIC)
    reads = [latency.delay("GET", "Catalog_Склады", 2_000) for _ in range(400)]
    writes = [latency.delay("POST", "Document_ЗаказКлиента", 2_000) for _ in range(400)]
    postings = [latency.delay("POST", "Post", 0) for _ in range(400)]
    assert statistics.median(reads) < statistics.median(writes) < statistics.median(postings)
    assert 0.05 < statistics.median(reads) < 0.3 and 0.3 < statistics.median(postings) < 2.0
    assert max(postings) > 2 * statistics.median(postings)  # the occasional slow one
    big_page = statistics.median(Latency(REALISTIC).delay("GET", "X", 500_000) for _ in range(200))
    assert big_page > statistics.median(reads)  # a read by its size
    again = Latency(REALISTIC)
    assert [again.delay("GET", "Catalog_Склады", 2_000) for _ in range(400)] == reads
    assert again.busy_s == pytest.approx(sum(reads))  # what 1C's pace cost, for the bench's floor
    again.size_delay(10_240)
    assert again.busy_s == pytest.approx(sum(reads) + 0.003)


def test_one_session_serves_one_request_at_a_time_and_the_pool_several() -> None:
    latency = Latency(REALISTIC)
    assert latency.session("a") is latency.session("a") and latency.session("a") is not latency.session("b")
    pool = latency.session(None)
    taken = [pool.acquire(blocking=False) for _ in range(REALISTIC.pool_size + 1)]
    assert taken == [True] * REALISTIC.pool_size + [False]


def test_a_file_of_figures_and_a_wrong_profile(tmp_path: Path) -> None:
    figures = tmp_path / "latency.yaml"
    figures.write_text("post_ms: 1500\nseed: 7\n", encoding="utf-8")
    profile = load_profile(str(figures))
    assert profile is not None and profile.post_ms == 1500 and profile.read_ms == REALISTIC.read_ms
    assert load_profile("off") is None
    figures.write_text("posting_ms: 1500\n", encoding="utf-8")
    with pytest.raises(ValueError, match="posting_ms"):
        load_profile(str(figures))
    done = subprocess.run([sys.executable, "-m", "b24sync", "emulate", "onec", "--latency", "fast"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "off, realistic or a YAML file" in done.stderr
