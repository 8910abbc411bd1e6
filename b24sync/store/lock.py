"""One writer at a time: an exclusive lock shared by the daemon and every one-shot command."""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
from pathlib import Path

from b24sync.errors import LockedError, StateError


def user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


class LockHeldError(LockedError):
    """Another b24sync process holds the lock; `pid` says which."""

    def __init__(self, path: Path, pid: int | None, service: bool = False) -> None:
        self.path = path
        self.pid = pid
        self.service = service  # the holder is `b24sync run`, which carries out commands it is given
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"{holder} holds the b24sync lock {path}; wait for it to finish, or stop it "
                         f"(systemctl stop b24sync, or b24sync@NAME) before running this command")


class ProcessLock:
    """An flock on `<state>.lock` holding the owner's PID; released when the process exits, even on kill -9."""

    def __init__(self, path: Path, service: bool = False) -> None:
        self.path = path
        self.service = service  # written beside the PID, so a command knows it may hand its work over
        self._handle: int | None = None

    def acquire(self) -> ProcessLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except PermissionError:
            raise StateError(f"the lock file {self.path} cannot be written by user {user_name()}: give that user write "
                             f"access to {self.path.parent} (the service's StateDirectory= does this), or point "
                             f"'state.path' elsewhere") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(handle, 64, 0).decode("ascii", errors="ignore").split()
            os.close(handle)
            pid = int(text[0]) if text and text[0].isdigit() else None
            raise LockHeldError(self.path, pid, service="service" in text[1:]) from None
        try:
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()}{' service' if self.service else ''}\n".encode(), 0)
        except OSError as error:  # a full disk, most likely: the lock is held all the same
            if error.errno != errno.ENOSPC:
                os.close(handle)
                raise StateError(f"cannot write the lock file {self.path}: {error.strerror}") from None
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None

    def __enter__(self) -> ProcessLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
