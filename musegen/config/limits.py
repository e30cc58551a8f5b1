"""Limits that protect a machine from huge or hostile input, each overridden by ``MUSEGEN_<FIELD>``."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass

from musegen.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Limits:
    """Limits that protect a machine (and a shared server) from huge or hostile input, all in one place (the app's
    ``.streamlit/config.toml`` upload limit matches ``max_upload_mb``); ``MUSEGEN_<FIELD>`` overrides each."""

    max_upload_mb: int = 200  # one uploaded file or zip
    max_file_mb: int = 10  # one MIDI file (after unzipping)
    max_files: int = 5000  # MIDI files in one dataset
    max_zip_members: int = 10_000  # entries in one zip archive
    max_unpacked_mb: int = 1000  # total unpacked size of one zip
    max_notes_per_file: int = 200_000  # more is not music a model can learn from
    max_events_per_file: int = 1_000_000  # every MIDI event counts: a file of controllers stops early too
    max_beats_per_file: int = 100_000  # about 14 hours at 120 BPM
    max_decode_mb: int = 1024  # memory a decoding worker may take for one file, on top of its own
    max_decode_seconds: int = 20  # CPU seconds a decoding worker may spend on one file
    max_folder_depth: int = 32  # folders inside folders searched for MIDI files
    max_generation_length: int = 10_000  # tokens per generated piece
    max_concurrent_trainings: int = 2  # more wait in a queue

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, each overridden by ``MUSEGEN_<FIELD>`` when set: any whole number from 1; one above what
        this system can use (:func:`limit_ceiling`) is capped there, and the cap logged once per process."""
        limits = cls()
        for f in dataclasses.fields(cls):
            name = f"MUSEGEN_{f.name.upper()}"
            raw = os.environ.get(name, "").strip()
            if raw:
                setattr(limits, f.name, _env_limit(name, raw, f.default))
        return limits


_MB = 1024 * 1024
# A limit is capped at the system's own maximum: sizes stay byte counts a read or an rlimit takes (signed 64-bit,
# room to add two), counts a signed 64-bit integer, CPU seconds a wait poll() can time (twice the limit in ms).
SIZE_CEILING_MB = sys.maxsize // (4 * _MB)
COUNT_CEILING = sys.maxsize
DECODE_SECONDS_CEILING = 1_000_000  # about 11.5 days
_SIZE_FIELDS = ("max_upload_mb", "max_file_mb", "max_unpacked_mb", "max_decode_mb")
_capped: set[str] = set()  # the limits whose cap has been logged in this process


def limit_ceiling(field_name: str) -> int:
    """The largest value of a :class:`Limits` field that this system can use."""
    if field_name in _SIZE_FIELDS:
        return SIZE_CEILING_MB
    if field_name == "max_decode_seconds":
        return DECODE_SECONDS_CEILING
    return COUNT_CEILING


def _env_limit(name: str, raw: str, default: int) -> int:
    """The value of the limit variable ``name``: a whole number, at least 1, capped at the system's maximum."""
    ceiling = limit_ceiling(name.removeprefix("MUSEGEN_").lower())
    try:  # thousands of digits are more than any ceiling (and more than int() parses)
        value = ceiling + 1 if raw.lstrip("+").isdigit() and len(raw) > 40 else int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw[:40]!r}.") from exc
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {raw[:40]!r}; unset it to use the default ({default:,}).")
    if value > ceiling:
        if name not in _capped:
            _capped.add(name)
            log.warning("%s is more than this system can use; capped at %s.", name, f"{ceiling:,}")
        return ceiling
    return value
