"""Writing files so that a crash never leaves half of one, and checksums of what was written.

Every artifact, encoder and result file of the project goes through here: the
bytes land in a temporary file beside the target, are flushed to disk, and
only then renamed over it, so a reader sees the old file or the new one,
never a mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def recorded_path(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` as a record should name it: relative to ``root`` (default: the repository) if it lies inside, else
    absolute; ``recorded_location`` reads it back.

    A manifest that names a folder of the repository by its absolute path
    would point nowhere in another clone; one relative to the repository
    means the same folder in every clone. Both sides are resolved first, so
    a symbolic link is recorded as where it leads, and the root itself is
    ``"."``. (Installed without ``-e``, the package's own folder is no
    clone, so every folder is then recorded in full.)
    """
    resolved, root = Path(path).resolve(), Path(REPOSITORY if root is None else root).resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)


def recorded_location(recorded: str | Path, root: str | Path | None = None) -> Path:
    """The folder a record names by ``recorded_path``: a relative one lies in ``root`` (default: the repository),
    whatever the current directory.

    Installed without ``-e`` the package lies in no clone, so a relative
    record is then read from the current directory, as it was written
    before records were made relative: run from the clone, it is found.
    """
    path = Path(recorded)
    if path.is_absolute():
        return path
    if root is None:
        root = REPOSITORY if (REPOSITORY / "pyproject.toml").is_file() else Path.cwd()
    return Path(root) / path


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; artifacts are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: str | Path) -> None:
    """Flush a folder's entries (the renames into it) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to fsync a directory
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, payload: dict) -> None:
    """Pretty JSON (UTF-8, one space indent), written atomically."""
    atomic_write_text(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
