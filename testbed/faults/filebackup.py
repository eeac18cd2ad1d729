"""Faults that change files keep the originals under <home>/faults/backup/<key>/ until reverted.

The backup is made in plan() — before inject, while the ledger entry is being written — so a revert
after a crash at any point finds the originals on disk.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from testbed.home import Home


def backup_dir(home: Home, key: str) -> Path:
    return home.root / "faults" / "backup" / key


def new_key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def save_tree(home: Home, key: str, source: Path) -> None:
    dest = backup_dir(home, key) / "tree"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)


def restore_tree(home: Home, key: str, target: Path) -> None:
    """Put the saved tree back exactly (whatever an operator or the fault did meanwhile)."""
    saved = backup_dir(home, key) / "tree"
    if not saved.exists():
        return
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(saved, target, symlinks=True)


def save_file(home: Home, key: str, source: Path) -> None:
    dest = backup_dir(home, key) / source.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest)


def restore_file(home: Home, key: str, target: Path) -> None:
    saved = backup_dir(home, key) / target.name
    if saved.exists():
        shutil.copy2(saved, target)


def drop(home: Home, key: str) -> None:
    shutil.rmtree(backup_dir(home, key), ignore_errors=True)
