"""Domain errors. Every message says what went wrong and how to fix it."""

from __future__ import annotations


class MusegenError(Exception):
    """Base class of every error musegen raises on purpose.

    UIs catch this class and show ``str(error)`` to the user; anything else is a bug.
    """

    def __str__(self) -> str:
        text = super().__str__()
        # a message that ends with another's text ("... (it ended.).") ends with one period, not two
        return text[:-1] if text.endswith("..") and not text.endswith("...") else text


class MidiReadError(MusegenError):
    """A single MIDI file could not be used (corrupt, empty, no notes, too big...)."""


class DatasetError(MusegenError):
    """A dataset as a whole is unusable (no usable file, nothing left after a filter)."""


class UploadError(MusegenError):
    """An upload or archive breaks a limit or is unsafe (zip bomb, path traversal)."""


class ConfigError(MusegenError):
    """A setting is out of range or inconsistent with another."""


class ModelLoadError(MusegenError):
    """A model or checkpoint file is missing, corrupt, foreign or unsafe."""


class TrainingError(MusegenError):
    """Training could not start or continue."""


class RunNotFoundError(MusegenError):
    """A run directory does not exist or is not a musegen run."""


class AudioError(MusegenError):
    """Rendering audio failed."""


class SoundFontError(AudioError):
    """No SoundFont was found, or the one given is unreadable."""


class FluidSynthMissingError(AudioError):
    """The FluidSynth system library or its Python binding is not installed."""


class StorageError(MusegenError, OSError):
    """A file or folder could not be written: the disk is full, read-only or not ours.

    Also an ``OSError`` (with the original ``errno``), so code that handles file-system
    failures keeps working; UIs show it like any other MusegenError. ``path`` names the file or
    folder that could not be written ("" when unknown).
    """

    path: str = ""


class AccessError(MusegenError):
    """A run belongs to another browser session: only its owner may stop or delete it."""
