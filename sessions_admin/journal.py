"""Undoable changes to SESSIONS_DIR: what one service call set aside and placed, put back on failure."""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import contextmanager

from adbot_admin.file_storage import TEMP_PREFIX

logger = logging.getLogger(__name__)


class FileJournal:
    """Changes to one storage made by one service call: undone by rollback(), made final by commit().

    A file set aside gets a temporary name (TEMP_PREFIX, so sync_sessions and
    the engine's `*.session` scan pass it by); rollback() puts it back,
    commit() deletes it. After commit() has begun, rollback() does nothing, so
    an error raised after the database commit never undoes committed files.
    """

    def __init__(self, storage):
        self.storage = storage
        self.aside: list[tuple[str, str]] = []  # (name, temporary name)
        self.placed: list[str] = []
        self.finished = False

    @classmethod
    @contextmanager
    def opened(cls, storage):
        """Yield a new journal of `storage`, rolled back when the block raises; committing stays the caller's."""
        journal = cls(storage)
        try:
            yield journal
        except BaseException:
            journal.rollback()
            raise

    def set_aside(self, name: str, *, keep_in_place: bool = False) -> bool:
        """Move `name` to a temporary name (or, with `keep_in_place`, hard-link it there).

        Returns False when there is no such file. With `keep_in_place` the file
        stays visible at `name` until something replaces it; the link is the
        copy rollback() restores.
        """
        path = self.storage.path(name)
        temp = f"{TEMP_PREFIX}{uuid.uuid4().hex}.aside"
        try:
            if keep_in_place:
                os.link(path, self.storage.path(temp), follow_symlinks=False)
            else:
                os.rename(path, self.storage.path(temp))
        except FileNotFoundError:
            return False
        self.aside.append((name, temp))
        return True

    def set_aside_existing(self, names) -> None:
        for name in names:
            self.set_aside(name)

    def record_placed(self, name: str) -> None:
        """Note that `name` was written; rollback() removes it (or restores what it replaced)."""
        self.placed.append(name)

    def rollback(self) -> None:
        """Remove what was placed and put back what was set aside; log, never raise."""
        if self.finished:
            return
        self.finished = True
        restored = {name for name, _ in self.aside}
        for name in reversed(self.placed):
            if name not in restored:
                self._quietly(os.unlink, self.storage.path(name))
        for name, temp in reversed(self.aside):
            self._quietly(os.replace, self.storage.path(temp), self.storage.path(name))

    def commit(self) -> None:
        """Delete the set-aside copies; log, never raise (the database has committed)."""
        if self.finished:
            return
        self.finished = True
        for _name, temp in self.aside:
            self._quietly(os.unlink, self.storage.path(temp))

    @staticmethod
    def _quietly(operation, *paths):
        try:
            operation(*paths)
        except FileNotFoundError:
            pass
        except OSError as exc:
            # The paths are server paths, not secrets; the file contents never appear.
            logger.error("session storage: %s failed on %s: %s", operation.__name__, paths[0], exc.strerror)
