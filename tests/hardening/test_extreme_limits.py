"""Hardening, third round (issue 34, point 1): every ``MUSEGEN_*`` limit takes any whole number a person might
type. A value above what the system can use is capped there, once per process with a log line; the file
reader never reserves the limit up front; the decoding workers' wait and rlimits take the capped values."""

from __future__ import annotations

import dataclasses
import json
import logging
import tracemalloc

import pytest

from musegen.config import DECODE_SECONDS_CEILING, SIZE_CEILING_MB, Limits, limit_ceiling
from musegen.config import limits as config
from musegen.errors import ConfigError
from musegen.sources.files import read_limited
from musegen.sources.uploads import SESSION_MAX_AGE_H, session_max_age_h
from tests.cli_runner import run_musegen
from tests.midi_factory import scale_midi

THIRTY_DIGITS = "9" * 30
FIELDS = [f.name for f in dataclasses.fields(Limits)]


@pytest.fixture(autouse=True)
def _fresh_caps(monkeypatch):
    monkeypatch.setattr(config, "_capped", set())


CASES = [THIRTY_DIGITS, "9" * 5000, "100000", "+12"]


@pytest.mark.parametrize("value", CASES, ids=["30-digits", "5000-digits", "1e5", "plus"])
def test_every_limit_takes_any_whole_number(monkeypatch, value):
    for name in FIELDS:
        monkeypatch.setenv(f"MUSEGEN_{name.upper()}", value)
    limits = Limits.from_env()
    for name in FIELDS:
        got = getattr(limits, name)
        assert 1 <= got <= limit_ceiling(name)
        assert got == min(int(value) if len(value) < 40 else 10**40, limit_ceiling(name))


def test_a_cap_is_said_once_per_process(monkeypatch, caplog):
    monkeypatch.setenv("MUSEGEN_MAX_DECODE_SECONDS", THIRTY_DIGITS)
    with caplog.at_level(logging.WARNING, logger="musegen.config"):
        assert Limits.from_env().max_decode_seconds == DECODE_SECONDS_CEILING
        Limits.from_env()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["MUSEGEN_MAX_DECODE_SECONDS is more than this system can use; capped at 1,000,000."]


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5", "-" + "9" * 5000])
def test_a_value_that_is_not_a_positive_whole_number_is_refused_with_a_message(monkeypatch, value):
    monkeypatch.setenv("MUSEGEN_MAX_FILES", value)
    with pytest.raises(ConfigError, match=r"^MUSEGEN_MAX_FILES must be (a whole number|at least 1).*\.$"):
        Limits.from_env()


@pytest.mark.parametrize("limit_mb", [100_000, SIZE_CEILING_MB, 10**30])
def test_the_reader_reserves_what_the_file_holds_not_the_limit(tmp_path, limit_mb):
    path = tmp_path / "scale.mid"
    path.write_bytes(scale_midi())
    tracemalloc.start()
    try:
        assert read_limited(path, limit_mb) == path.read_bytes()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_a_valid_file_reads_through_the_workers_with_every_limit_at_thirty_digits(tmp_path, caplog):
    """The issue: the workers' wait overflowed, and their rlimit killed every worker (a valid file 'corrupt')."""
    (tmp_path / "scale.mid").write_bytes(scale_midi())
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MUSEGEN_MAX")}
    env.update({f"MUSEGEN_{name.upper()}": THIRTY_DIGITS for name in FIELDS})
    proc = run_musegen("ingest", str(tmp_path / "scale.mid"), "--json", "--no-cache", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (row,) = json.loads(proc.stdout)["results"]
    assert row["ok"], row
    assert "MUSEGEN_MAX_DECODE_MB is more than this system can use; capped at 2,199,023,255,551." in caplog.messages


def test_other_settings_take_any_number(monkeypatch, caplog):
    from musegen.tf_setup import MAX_THREADS, default_threads
    from musegen.training.worker import DEFAULT_NICENESS, training_niceness

    for raw, hours in ((THIRTY_DIGITS, float(THIRTY_DIGITS)), ("9" * 500, float("inf")), ("nan", SESSION_MAX_AGE_H)):
        monkeypatch.setenv("MUSEGEN_SESSION_MAX_AGE_H", raw)
        assert session_max_age_h() == hours
    monkeypatch.setenv("MUSEGEN_TF_THREADS", THIRTY_DIGITS)
    assert default_threads() == MAX_THREADS
    monkeypatch.setenv("MUSEGEN_TRAINING_NICENESS", THIRTY_DIGITS)
    assert training_niceness() == DEFAULT_NICENESS
