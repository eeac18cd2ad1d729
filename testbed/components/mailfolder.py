"""One IMAP folder on disk, maildir-like, so every change is one atomic rename or link.

    <folder>/meta.json                 {"uidvalidity": N, "uidnext": N}
    <folder>/cur/<uid>.<id>:2,<flags>  one file per message; mtime is the internal date
    <folder>/tmp/                      messages being written (a crash leaves only garbage here)
    <folder>/expunged                  ids of removed deliveries, one per line (append only)

Why this shape: a delivery is write-to-tmp + rename (O(1), survives kill -9 at any instant), the
delivery id rides in the file name so "stored" and "remembered as stored" happen in the same rename,
and a flag change is a rename too. uidnext is persisted only before an expunge; on load it is the
larger of meta.json and the highest uid present, so a uid is never handed out twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import RemoteError

FLAG_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
LETTER_FLAGS = {v: k for k, v in FLAG_LETTERS.items()}


@dataclass
class Entry:
    name: str
    size: int = -1
    date: float = 0.0

    @property
    def flags(self) -> list[str]:
        return [LETTER_FLAGS[c] for c in self.name.rpartition(":2,")[2] if c in LETTER_FLAGS]

    @property
    def id(self) -> str:
        return self.name.split(".", 1)[1].rpartition(":2,")[0]


def _flag_suffix(flags: list[str]) -> str:
    return ":2," + "".join(sorted({FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS}))


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class Folder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.cur = path / "cur"
        meta = json.loads((path / "meta.json").read_text())
        self.uidvalidity = int(meta["uidvalidity"])
        self.entries: dict[int, Entry] = {}
        self.ids: dict[str, int] = {}
        for name in os.listdir(self.cur):
            uid = int(name.split(".", 1)[0])
            entry = Entry(name)
            self.entries[uid] = entry
            self.ids[entry.id] = uid
        self.expunged: set[str] = set()
        if (path / "expunged").exists():
            self.expunged = set((path / "expunged").read_text().split())
        self.uidnext = max([int(meta["uidnext"]), *(u + 1 for u in self.entries)])

    @staticmethod
    def create(path: Path, uidvalidity: int) -> Folder:
        """Built beside its final place and renamed in, so a crash never leaves half a folder."""
        tmp = path.with_name(f".new-{uuid.uuid4().hex}")
        (tmp / "cur").mkdir(parents=True)
        (tmp / "tmp").mkdir()
        _write_json(tmp / "meta.json", {"uidvalidity": uidvalidity, "uidnext": 1})
        os.rename(tmp, path)
        return Folder(path)

    def _file(self, uid: int) -> Path:
        entry = self.entries.get(uid)
        if entry is None:
            raise RemoteError("no_such_message", f"no message with uid {uid}")
        return self.cur / entry.name

    def entry(self, uid: int) -> Entry:
        entry = self.entries[uid]
        if entry.size < 0:
            st = os.stat(self.cur / entry.name)
            entry.size, entry.date = st.st_size, st.st_mtime
        return entry

    def known(self, delivery_id: str) -> int | None:
        """The uid a delivery got the first time (0 when it has since been expunged)."""
        key = _key(delivery_id)
        if key in self.ids:
            return self.ids[key]
        return 0 if key in self.expunged else None

    def add(
        self,
        data: bytes | None,
        flags: list[str],
        date: float | None,
        delivery_id: str | None = None,
        link_from: Path | None = None,
    ) -> int:
        key = _key(delivery_id) if delivery_id else uuid.uuid4().hex[:20]
        uid = self.uidnext
        name = f"{uid}.{key}{_flag_suffix(flags)}"
        tmp = self.path / "tmp" / name
        if link_from is not None:
            os.link(link_from, tmp)
        else:
            assert data is not None
            with open(tmp, "wb") as f:
                f.write(data)
            if date is not None:
                os.utime(tmp, (date, date))
        os.rename(tmp, self.cur / name)
        self.uidnext = uid + 1
        self.entries[uid] = Entry(name)
        self.ids[key] = uid
        return uid

    def read(self, uid: int) -> bytes:
        return self._file(uid).read_bytes()

    def path_of(self, uid: int) -> Path:
        return self._file(uid)

    def set_flags(self, uid: int, flags: list[str]) -> list[str]:
        old = self._file(uid)
        entry = self.entries[uid]
        name = entry.name.rpartition(":2,")[0] + _flag_suffix(flags)
        if name != entry.name:
            os.rename(old, self.cur / name)
            entry.name = name
        return entry.flags

    def remove(self, uids: list[int]) -> list[int]:
        """Remember uidnext and the removed delivery ids before the files go."""
        uids = [u for u in uids if u in self.entries]
        if not uids:
            return []
        _write_json(
            self.path / "meta.json", {"uidvalidity": self.uidvalidity, "uidnext": self.uidnext}
        )
        keys = [self.entries[u].id for u in uids]
        with open(self.path / "expunged", "a") as f:
            f.write("".join(f"{k}\n" for k in keys))
        self.expunged.update(keys)
        for uid in uids:
            entry = self.entries.pop(uid)
            self.ids.pop(entry.id, None)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.cur / entry.name)
        return uids

    def size(self) -> int:
        return sum(self.entry(u).size for u in self.entries)


def _key(delivery_id: str) -> str:
    import hashlib

    return hashlib.sha1(delivery_id.encode()).hexdigest()[:20]
