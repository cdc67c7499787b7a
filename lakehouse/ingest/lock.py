"""One run per client at a time: an advisory lock file per client under the lake.

Two runs for the same client would both pass the "already ingested?" checks before either
commits; the loser of this lock skips that client and says who holds it. ``flock`` locks are
released by the kernel when the holder dies, so a crashed run never leaves a stale lock.
On object stores (no ``flock``), run one job per client (scheduler concurrency = 1).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

from lakehouse.errors import LockBusyError

__all__ = ["ClientLock"]


class ClientLock(AbstractContextManager["ClientLock"]):
    def __init__(self, directory: Path, name: str, *, run_id: str) -> None:
        self.path = directory / f"{name}.lock"
        self.name = name
        self.run_id = run_id
        self._fd: int | None = None

    def __enter__(self) -> ClientLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", errors="replace")
            os.close(fd)
            raise LockBusyError(
                f"'{self.name}' is being ingested by another run ({holder or 'holder unknown'})",
                client=self.name,
                fix="wait for that run to finish; this run skipped the client and changed nothing",
            ) from None
        os.ftruncate(fd, 0)
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        record = {"pid": os.getpid(), "run_id": self.run_id, "since": since}
        os.write(fd, json.dumps(record).encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
