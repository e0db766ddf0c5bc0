"""Write-then-rename, so a killed job never leaves a half-written output behind."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ocr_common.errors import UserError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it to `path` only if the block succeeds.

    The temporary name keeps the suffix, so writers that pick a format by suffix still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_partials(folder: Path, pattern: str) -> None:
    """Delete temporaries matching `pattern` (`….partial-PID…`) whose writer is no longer running:
    a killed job's leftovers go, a concurrent writer's work in progress stays."""
    for leftover in folder.glob(pattern):
        pid = leftover.name.rpartition(".partial-")[2].split(".")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _ordinary_permissions(folder: Path) -> None:
    """What the umask gives new files and folders: some writers (safetensors) create 0600 files,
    which other users of a shared export could not read."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def check_replaceable(path: Path, marker: str, overwrite: bool) -> None:
    """Refuse to replace `path` unless it is absent, empty, one of ours (holds `marker`) or
    `overwrite` is set: a user's folder of other files is never deleted by mistake."""
    if overwrite or not (path.exists() or path.is_symlink()):
        return
    if not path.is_dir() or path.is_symlink():
        raise UserError(f"{path}: exists and is not a folder; pass --overwrite to replace it")
    if any(path.iterdir()) and not (path / marker).is_file():
        raise UserError(
            f"{path}: not empty and not written by this project (no {marker}); choose another "
            "folder or pass --overwrite to replace everything in it"
        )


@contextmanager
def atomic_directory(
    path: str | os.PathLike, marker: str, overwrite: bool = False
) -> Iterator[Path]:
    """Yield an empty sibling folder; it replaces `path` (and all it held) if the block succeeds.

    `marker` is a file every folder of this kind holds: an existing non-empty `path` without it
    is refused (before any work) unless `overwrite`.
    """
    path = Path(path)
    check_replaceable(path, marker, overwrite)
    remove_stale_partials(path.parent, f".{path.name}.partial-*")
    staging = path.with_name(f".{path.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        _ordinary_permissions(staging)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
