"""SoundFonts: where musegen finds one, and whether FluidSynth can load it safely.

Search order (DESIGN.md): a path the user gives or ``MUSEGEN_SOUNDFONT``,
``assets/soundfonts/*.sf2|*.sf3``, the system's General MIDI fonts, and last the small
TimGM6mb.sf2 that pretty_midi ships. Nothing is downloaded. A font outside the trusted
system folders is first loaded once in a child process with a timeout, so a broken or
hostile file that hangs or crashes the library fails with a message instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pretty_midi

from musegen.errors import SoundFontError
from musegen.paths import ASSETS

ENV_SOUNDFONT = "MUSEGEN_SOUNDFONT"
ASSETS_SOUNDFONTS = ASSETS / "soundfonts"
SYSTEM_SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
PREFERRED_SYSTEM_FONTS = ("FluidR3_GM.sf2", "FluidR3_GM.sf3", "default-GM.sf2", "default.sf2")
_SUFFIXES = (".sf2", ".sf3")


def _fonts_in(folder: Path, preferred: tuple[str, ...] = ()) -> list[Path]:
    if not folder.is_dir():
        return []
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
    first = [folder / name for name in preferred if (folder / name).is_file()]
    return first + [p for p in found if p not in first]


def bundled_soundfont() -> Path:
    """The small General MIDI font (TimGM6mb) shipped inside the pretty_midi package."""
    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


def find_soundfont(user_path: str | os.PathLike | None = None) -> Path:
    """The SoundFont to use, in the order of DESIGN.md.

    1. ``user_path``, else the environment variable ``MUSEGEN_SOUNDFONT`` (must exist);
    2. ``assets/soundfonts/*.sf2|*.sf3`` in the repository;
    3. the system's General MIDI fonts in ``/usr/share/sounds/sf2/`` (FluidR3_GM, then
       default-GM, then any) and ``/usr/share/soundfonts/``;
    4. the TimGM6mb.sf2 that pretty_midi ships. Nothing is downloaded.
    """
    explicit = user_path if user_path not in (None, "") else os.environ.get(ENV_SOUNDFONT) or None
    if explicit is not None:
        path = Path(explicit).expanduser()
        origin = "the SoundFont path given" if user_path not in (None, "") else f"${ENV_SOUNDFONT}"
        if not path.is_file():
            raise SoundFontError(
                f"SoundFont not found: {path} ({origin}) is not a file. Give the path of a .sf2 or .sf3 file"
                + (f", or unset {ENV_SOUNDFONT} to search the usual places." if origin.startswith("$") else ".")
            )
        return path
    looked = [ASSETS_SOUNDFONTS, *SYSTEM_SOUNDFONT_DIRS]
    for folder in looked:
        fonts = _fonts_in(folder, PREFERRED_SYSTEM_FONTS)
        if fonts:
            return fonts[0]
    if bundled_soundfont().is_file():
        return bundled_soundfont()
    places = ", ".join(str(p) for p in [*looked, bundled_soundfont()])
    raise SoundFontError(
        f"No SoundFont found (looked in {places}). Put a General MIDI .sf2 file into {ASSETS_SOUNDFONTS}, "
        f"install one with `sudo apt-get install fluid-soundfont-gm`, or pass --soundfont PATH / set {ENV_SOUNDFONT}."
    )


PROBE_TIMEOUT_S = 30.0  # a SoundFont that takes longer to load in the test process is refused
_probe_cache: dict[tuple[str, int, int], str | None] = {}
_PROBE_FAILED = 3  # exit code of the child when sfload returns -1
_PROBE = "import sys, fluidsynth; s = fluidsynth.Synth(); sys.exit(0 if s.sfload(sys.argv[1]) >= 0 else 3)"


def _trusted(path: Path) -> bool:
    trusted_dirs = [*SYSTEM_SOUNDFONT_DIRS, bundled_soundfont().parent]
    real = path.resolve()
    return any(real.is_relative_to(d.resolve()) for d in trusted_dirs if d.is_dir())


def check_soundfont(path: Path, timeout_s: float | None = None) -> None:
    """Raise SoundFontError unless ``path`` looks like a SoundFont FluidSynth can load.

    Checks the RIFF ``sfbk`` header here; a font outside the system folders and pretty_midi
    is then loaded once in a child process (result cached per path, size and mtime), so a
    file that makes the library hang or crash fails with a message instead.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
        stat = path.stat()
    except OSError as exc:
        raise SoundFontError(f"Cannot read the SoundFont {path}: {exc.strerror}.") from exc
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise SoundFontError(
            f"{path} is not a SoundFont: it lacks the RIFF 'sfbk' header of .sf2/.sf3 files. "
            "Choose another file or remove it to use the default General MIDI font."
        )
    if _trusted(path):
        return
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _probe_cache:
        _probe_cache[key] = _probe(path, PROBE_TIMEOUT_S if timeout_s is None else timeout_s)
    if _probe_cache[key] is not None:
        raise SoundFontError(_probe_cache[key])


def _probe(path: Path, timeout_s: float) -> str | None:
    """Load ``path`` in a child process; None when fine, else the error message."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return f"Loading the SoundFont {path} took longer than {timeout_s:g} s; the file is probably damaged."
    if proc.returncode == 0:
        return None
    detail = [ln.split("error:", 1)[1].strip() for ln in proc.stderr.splitlines() if "fluidsynth: error:" in ln]
    why = f" ({detail[0]})" if detail else ""
    if proc.returncode < 0:
        return f"The SoundFont {path} crashed FluidSynth (signal {-proc.returncode}); the file is damaged."
    if proc.returncode == _PROBE_FAILED:
        return _damaged(path, why)
    last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
    return f"Could not check the SoundFont {path}: the FluidSynth test process failed ({last[0]})."


def _damaged(path: Path, why: str = "") -> str:
    return f"FluidSynth cannot load the SoundFont {path}{why}: the file is damaged or not a SoundFont."
