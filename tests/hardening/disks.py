"""Small real file systems for the fault tests: a tmpfs mounted where the tests run as root, filled on demand."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IS_ROOT = os.geteuid() == 0


def mount_tmpfs(path: Path, *options: str) -> bool:
    """Mount a tmpfs at ``path`` (made) with ``options``; False where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path)], capture_output=True)
    return proc.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def free_bytes(disk: Path) -> int:
    info = os.statvfs(disk)
    return info.f_bavail * info.f_frsize


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` up to ``leave`` bytes free with one file; delete it to free the space again."""
    filler = disk / "filler.bin"
    with open(filler, "ab") as fh:
        fh.write(b"\0" * max(0, free_bytes(disk) - leave))
    return filler


def leave_free(filler: Path, leave: int) -> None:
    """Shrink the filler of :func:`fill` so that ``leave`` bytes are free (more if the filler is too small)."""
    disk = filler.parent
    os.truncate(filler, max(0, filler.stat().st_size - max(0, leave - free_bytes(disk))))


def hidden_temporaries(folder: Path) -> list[Path]:
    """The temporary files musegen's atomic writes leave when they are cut short (none, if they clean up)."""
    return [p for p in folder.rglob(".*") if p.is_file() and p.name.endswith((".tmp", ".tmp.keras"))]
