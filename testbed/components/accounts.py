"""The account database (the plan's "Oracle" behind the UAS) as an SQLite file.

The primary copy lives on the database node and is served by the acctdb process; the backup UAS
reads a replica copied at provisioning. Both answer through AccountStore, so a login checked by the
backup UAS behaves exactly as one checked through the primary path.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from testbed.errors import RemoteError

User = dict[str, Any]
PUBLIC = ("address", "name", "cls", "level", "quota", "mailroot", "status")


def password_hash(salt: str, password: str) -> str:
    # A fast salted hash: the testbed's passwords are generated test data, and logins must be cheap
    # enough for load tests; a production system would use a slow KDF here.
    return hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()


def write_accounts(path: Path, users: list[User], domains: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute(
            "CREATE TABLE users (address TEXT PRIMARY KEY, name TEXT, cls TEXT, level INT,"
            " quota INT, mailroot TEXT, status TEXT, salt TEXT, hash TEXT)"
        )
        db.execute("CREATE TABLE domains (name TEXT PRIMARY KEY)")
        rows = []
        for u in users:
            salt = secrets.token_hex(4)
            rows.append(
                (
                    u["address"],
                    u["name"],
                    u["cls"],
                    u["level"],
                    u["quota"],
                    u["mailroot"],
                    u["status"],
                    salt,
                    password_hash(salt, u["password"]),
                )
            )
        db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO domains VALUES (?)", [(d,) for d in domains])
        db.commit()
    finally:
        db.close()
    os.replace(tmp, path)


def copy_replica(primary: Path, replica: Path) -> None:
    replica.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(primary, replica)


class AccountStore:
    """Read-only queries over one account database file."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(path)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        self.db.close()

    def _row(self, address: str) -> sqlite3.Row:
        row = self.db.execute(
            "SELECT * FROM users WHERE address = ?", (str(address).strip().lower(),)
        ).fetchone()
        if row is None:
            raise RemoteError("no_such_user", f"no user {address}")
        return row

    def lookup(self, address: str) -> User:
        row = self._row(address)
        if row["status"] != "active":
            raise RemoteError("disabled", f"{address} is {row['status']}")
        return {k: row[k] for k in PUBLIC}

    def authenticate(self, address: str, password: str) -> User:
        row = self._row(address)
        if not secrets.compare_digest(row["hash"], password_hash(row["salt"], str(password))):
            raise RemoteError("bad_password", "authentication failed")
        if row["status"] != "active":
            raise RemoteError("disabled", f"{address} is {row['status']}")
        return {k: row[k] for k in PUBLIC}

    def domains(self) -> list[str]:
        return [r["name"] for r in self.db.execute("SELECT name FROM domains ORDER BY name")]

    def handlers(self) -> dict[str, Any]:
        """RPC handlers (the UAS contract in uas_client.py) answering from this store."""

        async def authenticate(p: dict[str, Any]) -> User:
            return self.authenticate(p["address"], p["password"])

        async def lookup(p: dict[str, Any]) -> User:
            return self.lookup(p["address"])

        async def domains(_p: dict[str, Any]) -> list[str]:
            return self.domains()

        return {"authenticate": authenticate, "lookup": lookup, "domains": domains}
