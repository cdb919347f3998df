"""File storage: every write lands whole or not at all.

Both apps keep their files through Django's storage API (`storages["sessions"]`
and `storages["default"]`), so a shared volume works as-is and an
S3-compatible bucket works through django-storages. On a local or shared
folder, AtomicFileSystemStorage writes to a temporary file in the target folder
and renames it into place, so a reader (the engine) never sees a partial file.
"""

import os
import tempfile

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from whitenoise.storage import CompressedManifestStaticFilesStorage

TEMP_PREFIX = ".incoming-"


def write_atomically(path, chunks, *, mode, prefix, overwrite=True):
    """Write `chunks` (bytes) to a temporary file beside `path`, synced, then put it at `path` whole, with `mode`.

    With `overwrite` false the last step is a hard link: FileExistsError when
    `path` is taken, and two writers of one name never both succeed.
    """
    descriptor, temp_path = tempfile.mkstemp(dir=os.path.dirname(path), prefix=prefix, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp_path, mode)
        (os.replace if overwrite else os.link)(temp_path, path)
    finally:
        if os.path.lexists(temp_path):
            os.unlink(temp_path)


class AtomicFileSystemStorage(FileSystemStorage):
    """A folder whose files appear by rename, complete and with their final mode."""

    def save_exact(self, name, content, *, overwrite):
        """Store `content` as exactly `name` and return the name.

        Raises FileExistsError when `name` is taken and `overwrite` is false (write_atomically).
        """
        full_path = self.path(name)
        os.makedirs(os.path.dirname(full_path), mode=self.directory_permissions_mode or 0o700, exist_ok=True)
        if hasattr(content, "seek"):
            content.seek(0)
        chunks = content.chunks() if hasattr(content, "chunks") else iter(lambda: content.read(65536), b"")
        mode = self.file_permissions_mode or 0o600
        write_atomically(full_path, chunks, mode=mode, prefix=TEMP_PREFIX, overwrite=overwrite)
        return name

    def _save(self, name, content):
        return self.save_exact(name, content, overwrite=self._allow_overwrite)


class SessionFileStorage(AtomicFileSystemStorage):
    """SESSIONS_DIR, read when used: the engine's folder, private (0600 files, 0700 folders)."""

    def __init__(self, location=None, **kwargs):
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        kwargs.setdefault("base_url", "")
        super().__init__(location=location, **kwargs)

    @property
    def base_location(self):
        return self._value_or_setting(self._location, settings.SESSIONS_DIR)

    @property
    def location(self):
        return os.path.abspath(self.base_location)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files once collected; their plain names before that."""

    manifest_strict = False

    def hashed_name(self, name, content=None, filename=None):
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            # Not collected (tests, a first run): WHITENOISE_USE_FINDERS serves the plain name.
            return name


def save_exact(storage, name, content, *, overwrite):
    """Store `content` as exactly `name` in any storage; raises FileExistsError when taken.

    Object stores (django-storages) write each object atomically by themselves;
    only the existence check is ours there.
    """
    if isinstance(storage, AtomicFileSystemStorage):
        return storage.save_exact(name, content, overwrite=overwrite)
    if storage.exists(name):
        if not overwrite:
            raise FileExistsError(name)
        storage.delete(name)
    return storage.save(name, content)


def session_storage():
    return storages["sessions"]


def media_storage():
    return storages["default"]
