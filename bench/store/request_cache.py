"""A cache of backend answers keyed by the model's identity and the request itself.

lm-eval's `--use_cache` keys requests without the model, so a second model pointed at the same cache silently
gets the first one's answers (FACTS.md); here the key of a cache is a digest of the model's fingerprint (weights
hash or hub revision), the variant recipe hash, the backend and the dtype, and every request is keyed by all of
its fields, the seed of a sampled generation included, so a sampled continuation is reused only for the same
seed; a chat request also by the hash of the template text its `chat_template` setting resolves to ("auto" is
the tokenizer's own), so editing a template misses. A re-run with another `--limit`, or a second task asking
the same questions, computes only what is new.

One SQLite file per model key in `$QDBENCH_HOME/request-cache/`, in WAL mode: concurrent runs of the same
model read and insert at once (an insert of an existing key is ignored, both writers hold the same answer).

The cache only saves time, so damage to it costs time, never a number (each with one `qdbench: warning:`): a
file SQLite cannot read is moved aside (`NAME.damaged-TIME`, beside it) and an empty cache takes its place;
every answer is stored with its sha256, and one that does not match (edited by hand, damaged) or no longer loads
is computed again and replaced; a cache that cannot be written (a read-only or immutable file or folder) is read
without writing; one whose disk is full stops storing new answers. The backend that answers from it is
bench/models/cached_backend.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from bench import paths
from bench.errors import UserError

SCHEMA = 2  # 2: every answer stored with its sha256


def model_key(fingerprint: dict, recipe_hash: str | None, backend: str, dtype: str) -> str:
    """What must be equal for two answers to be interchangeable; a changed weight changes it."""
    blob = json.dumps({"model": fingerprint, "recipe": recipe_hash, "backend": backend, "dtype": dtype,
                       "schema": SCHEMA}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def request_key(request, template_sha256: str | None = None) -> str:
    """Every field of the request (a dataclass of bench/models/requests.py); for a chat request also the hash of
    the template text it resolves to."""
    fields = {"kind": type(request).__name__, **dataclasses.asdict(request)}
    if fields["kind"] == "ChatRequest":
        fields["template_sha256"] = template_sha256
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def text_sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _kind(error: sqlite3.Error) -> str:
    """What an SQLite error means for the cache: damaged, read-only, full, busy or (anything else) broken."""
    text = str(error).lower()
    if "not a database" in text or "malformed" in text:
        return "damaged"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return "read-only"
    if "full" in text or "disk i/o" in text:
        return "full"
    if "locked" in text or "busy" in text:
        return "busy"
    return "broken"


class RequestCache:
    """Answers of one model (one `model_key`), stored as JSON by request key with their sha256."""

    def __init__(self, key: str, root: Path | None = None):
        self.path = (root or paths.home() / "request-cache") / f"{key}.sqlite"
        self._db: sqlite3.Connection | None = None
        self.read_only = False  # answers are read, new ones are not stored
        self.disabled = False  # nothing is read or stored
        self._warned: set[str] = set()

    def _warn(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            print(f"qdbench: warning: request cache {self.path}: {message}", file=sys.stderr)

    def _open(self, create: bool) -> sqlite3.Connection | None:
        """The database, made at the first write only: a command refused before any answer leaves no file."""
        if self._db is not None or self.disabled:
            return self._db
        if not self.path.exists() and (not create or self.read_only):
            return None
        if self.read_only:
            self._db = self._open_read_only()
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise sqlite3.OperationalError(f"unable to open database file ({e.strerror})") from None
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            _set_up(db)
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _open_read_only(self) -> sqlite3.Connection:
        """Without writing anything: `mode=ro` needs to write the WAL index beside the file, `immutable=1` not."""
        uri = urllib.parse.quote(str(self.path))
        error: sqlite3.Error | None = None
        for flags in ("mode=ro", "immutable=1"):
            db = sqlite3.connect(f"file:{uri}?{flags}", uri=True, timeout=60, isolation_level=None)
            try:
                db.execute("SELECT key, value, sha256 FROM answers LIMIT 1").fetchall()
                return db
            except sqlite3.Error as e:
                db.close()
                error = e
        raise error  # type: ignore[misc]

    def _do(self, op: Callable[[sqlite3.Connection], object], fallback, write: bool):
        """`op` on the database, recovering from damage as the module says; `fallback` where nothing can be done."""
        for _ in range(3):
            if self.disabled or (write and self.read_only):
                return fallback
            try:
                db = self._open(create=write)
                return fallback if db is None else op(db)
            except sqlite3.Error as e:
                kind = _kind(e)
                self.close()
                if kind == "damaged" and not self.read_only:
                    self._move_aside(e)
                elif kind == "read-only" and not self.read_only:
                    self.read_only = True
                    self._warn("read-only", f"read-only ({e}); its answers are used, new ones are computed and not "
                                            "stored")
                elif kind == "full" and write:
                    self.read_only = True
                    self._warn("full", f"cannot store new answers: the disk is full or failing ({e}); they are "
                                       "computed and not stored")
                    return fallback
                elif kind == "busy":
                    raise UserError(f"request cache {self.path}: {e} (another process holds it); run again, or "
                                    "use --no-request-cache") from None
                else:
                    self.disabled = True
                    self._warn("broken", f"cannot be used ({e}); every answer is computed and not stored")
                    return fallback
        return fallback

    def _move_aside(self, error: sqlite3.Error) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        dest = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{os.getpid()}")
        try:
            os.replace(self.path, dest)
            for extra in ("-wal", "-shm"):
                if Path(f"{self.path}{extra}").exists():
                    os.replace(f"{self.path}{extra}", f"{dest}{extra}")
        except OSError as e:
            self.disabled = True
            self._warn("damaged", f"damaged ({error}) and cannot be moved aside ({e.strerror}); not used")
            return
        self._warn("damaged", f"damaged ({error}); moved aside to {dest.name}, starting an empty one (answers are "
                              "computed again)")

    def meta(self) -> dict | None:
        row = self._do(lambda db: db.execute("SELECT value FROM meta WHERE key = 'backend'").fetchone(), None, False)
        try:
            doc = json.loads(row[0]) if row else None
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def set_meta(self, info: dict) -> None:
        self._do(lambda db: db.execute("INSERT OR REPLACE INTO meta VALUES ('backend', ?)", (json.dumps(info),)),
                 None, True)

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Stored answers of `keys` that match their sha256; the others count as missing (with a warning)."""
        unique = list(dict.fromkeys(keys))

        def read(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
            rows = []
            for i in range(0, len(unique), 500):
                part = unique[i:i + 500]
                rows += db.execute(f"SELECT key, value, sha256 FROM answers WHERE key IN ({','.join('?' * len(part))})",
                                   part).fetchall()
            return rows

        found = {}
        for key, value, digest in self._do(read, [], False):
            if isinstance(value, str) and digest == _sha256(value):
                found[key] = value
            else:
                self.damaged_rows()
        return found

    def damaged_rows(self) -> None:
        self._warn("rows", "stored answers that do not match their sha256 or do not load (edited or damaged) are "
                           "computed again")

    def put_many(self, items: dict[str, str]) -> None:
        rows = [(k, v, _sha256(v)) for k, v in items.items()]
        self._do(lambda db: db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", rows), None, True)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _set_up(db: sqlite3.Connection, deadline_s: float = 60.0) -> None:
    """WAL mode and the tables, retried while another connection sets them up: switching the journal mode takes an
    exclusive lock, and SQLite answers "database is locked" at once (no busy wait) to connections that meet it
    there, which writers starting together on a new cache did (seen once in CI)."""
    waited, pause = 0.0, 0.01
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                       "sha256 TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            return
        except sqlite3.OperationalError as e:
            if _kind(e) != "busy" or waited >= deadline_s:
                raise
            time.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 0.5)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
