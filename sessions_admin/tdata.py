"""Telegram Desktop `tdata` folders, found in a zip or a folder, read into Telethon session files.

Only the key file and the accounts' files are taken (the rest, often hundreds
of MB, is passed by) and copied privately under MAX_TDATA_BYTES, judged from the
declared sizes before anything is read. The reading runs in a child process
(tdata_reader.py) under CPU and address-space limits and a deadline: a hostile
tdata costs that process, never the server. README ("tdata") has the files
taken, the limits and the sidecar each account gets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings

from adbot_admin.file_storage import TEMP_PREFIX

from .conversion import TELEGRAM_DESKTOP
from .copies import CHUNK_BYTES
from .errors import Refused, describe_bytes

READER = Path(__file__).with_name("tdata_reader.py")
KEY_FILE = re.compile(r"key_data[s01]")
ACCOUNT_FILE = re.compile(r"[0-9A-Fa-f]{16}[s01]")
ACCOUNT_FOLDER = re.compile(r"[0-9A-Fa-f]{16}")
ACCOUNT_FOLDER_FILE = re.compile(r"(?:map|config)[s01]")
# What is taken of one tdata: a real one's key file, accounts and maps are a few KiB.
MAX_TDATA_BYTES = 1024 * 1024
MAX_TDATA_FILES = 64
# One child process per tdata folder, each taking seconds: a bound on one import's time.
MAX_TDATA_FOLDERS = 20
READ_TIMEOUT_SECONDS = 60
MAX_PASSCODE_LENGTH = 256


class TdataRefused(Refused):
    """Raised when a tdata folder is refused; `code` says why and the message is fit for the client."""

    code = "invalid_tdata"

    def __init__(self, detail, *, code="invalid_tdata"):
        super().__init__(detail)
        self.code = code


@dataclass
class Folder:
    """One tdata folder of an archive: its path ("" for a bare tdata zip) and the entries to take."""

    root: str
    taken: list = field(default_factory=list)  # ZipInfo
    entries: set = field(default_factory=set)  # every entry name under root

    @property
    def shown(self) -> str:
        return self.root or "tdata"


@dataclass(frozen=True)
class Account:
    """One account read out of a tdata: a Telethon session file and its sidecar values."""

    stored_name: str
    path: Path
    user_id: int
    dc_id: int

    @property
    def sidecar(self) -> dict:
        """The account's canonical sidecar: Telegram Desktop's app parameters and the account id."""
        app = TELEGRAM_DESKTOP
        return {
            "app_id": app.api_id,
            "app_hash": app.api_hash,
            "app_version": app.app_version,
            "device": app.device_model,
            "sdk": app.system_version,
            "lang_code": app.lang_code,
            "system_lang_code": app.system_lang_code,
            "id": self.user_id,
        }


def _relative(name: str, root: str) -> str | None:
    if not root:
        return name
    return name[len(root) + 1 :] if name.startswith(root + "/") else None


def wanted_in_folder(relative: str) -> bool:
    """Return True for a path, relative to a tdata folder, of a file the reader needs."""
    parts = relative.split("/")
    if len(parts) == 1:
        return bool(KEY_FILE.fullmatch(parts[0]) or ACCOUNT_FILE.fullmatch(parts[0]))
    return len(parts) == 2 and bool(ACCOUNT_FOLDER.fullmatch(parts[0]) and ACCOUNT_FOLDER_FILE.fullmatch(parts[1]))


def find_folders(entries) -> list[Folder]:
    """Return the tdata folders among an archive's planned entries (archives.Entry), in archive order.

    A folder is the parent of a key file; an entry belongs to the deepest
    folder it lies under. Only entries the archive plan skips (not `.session`
    files, not refused) are taken. Raises TdataRefused past MAX_TDATA_FOLDERS.
    """
    roots = []
    for entry in entries:
        if entry.action == "skip" and not entry.info.is_dir():
            path = PurePosixPath(entry.name)
            if KEY_FILE.fullmatch(path.name):
                root = str(path.parent) if str(path.parent) != "." else ""
                if root not in roots:
                    roots.append(root)
    if len(roots) > MAX_TDATA_FOLDERS:
        raise TdataRefused(
            f"the archive holds {len(roots)} tdata folders; one import takes at most {MAX_TDATA_FOLDERS}",
            code="too_many_tdata",
        )
    folders = {root: Folder(root) for root in roots}
    by_depth = sorted(roots, key=len, reverse=True)
    for entry in entries:
        if entry.action != "skip":
            continue
        root = next((r for r in by_depth if _relative(entry.name, r) is not None), None)
        if root is None:
            continue
        folder = folders[root]
        folder.entries.add(entry.name)
        if not entry.info.is_dir() and wanted_in_folder(_relative(entry.name, root)):
            folder.taken.append(entry.info)
    return list(folders.values())


def _check_size(sizes) -> None:
    sizes = list(sizes)
    if len(sizes) > MAX_TDATA_FILES:
        raise TdataRefused(f"the tdata has {len(sizes)} key and account files; at most {MAX_TDATA_FILES} are read")
    if sum(sizes) > MAX_TDATA_BYTES:
        raise TdataRefused(
            f"the tdata's key and account files declare {sum(sizes)} bytes; at most "
            f"{describe_bytes(MAX_TDATA_BYTES)} are read",
            code="tdata_too_large",
        )


def _private_folder():
    return tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=settings.FILE_UPLOAD_TEMP_DIR)


def _write_private(path: Path, chunks, *, left: int) -> int:
    """Write `chunks` to a new 0600 file at `path`; return what is left of `left` bytes, refusing past it."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(descriptor, "wb") as out:
        for chunk in chunks:
            left -= len(chunk)
            if left < 0:
                raise TdataRefused(
                    f"the tdata holds more than {describe_bytes(MAX_TDATA_BYTES)} of key and account files",
                    code="tdata_too_large",
                )
            out.write(chunk)
    return left


@contextmanager
def extracted(source, folder: Folder):
    """Yield a private copy of `folder`'s taken entries (a temporary folder, removed on exit).

    `source.open(info)` yields a readable stream of one entry (a zip's, or a
    file's of a folder read as one). Raises TdataRefused past the size caps
    (judged from the declared sizes first, then from what is read) and what
    `source.open` raises for an entry that cannot be read.
    """
    _check_size(info.file_size for info in folder.taken)
    with _private_folder() as temp:
        left = MAX_TDATA_BYTES
        for info in folder.taken:
            relative = _relative(info.filename, folder.root)
            with source.open(info) as stream:
                left = _write_private(
                    Path(temp, *relative.split("/")), iter(lambda s=stream: s.read(CHUNK_BYTES), b""), left=left
                )
        yield Path(temp)


def is_tdata_folder(names) -> bool:
    """Return True when a folder holding the files `names` is a tdata folder (it has a key file)."""
    return any(KEY_FILE.fullmatch(name) for name in names)


@contextmanager
def read_accounts(folder: Path, *, passcode: str = ""):
    """Yield [Account] read from the private tdata copy at `folder`; the session files go on exit.

    Raises TdataRefused when the tdata cannot be read: `tdata_passcode` for a
    missing or wrong passcode, `too_many_accounts`, `invalid_tdata` for
    anything damaged, hostile or too costly to read.
    """
    if not isinstance(passcode, str) or len(passcode) > MAX_PASSCODE_LENGTH:
        raise TdataRefused(f"tdata_passcode is at most {MAX_PASSCODE_LENGTH} characters", code="tdata_passcode")
    with _private_folder() as output:
        answer = _run_reader(folder, Path(output), passcode)
        accounts = []
        for item in answer.get("accounts", []):
            user_id, dc_id, name = item.get("user_id"), item.get("dc_id"), item.get("file")
            path = Path(output, str(name))
            if type(user_id) is not int or type(dc_id) is not int or path.parent != Path(output) or not path.is_file():
                raise TdataRefused("the tdata reader gave an unusable answer")
            accounts.append(Account(stored_name=f"{user_id}.session", path=path, user_id=user_id, dc_id=dc_id))
        if len({a.stored_name for a in accounts}) != len(accounts):
            raise TdataRefused("the tdata holds one account twice", code="duplicate_name")
        yield accounts


def _run_reader(folder: Path, output: Path, passcode: str) -> dict:
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(READER), str(folder), str(output)],
            input=passcode.encode("utf-8"),
            capture_output=True,
            timeout=READ_TIMEOUT_SECONDS,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TdataRefused(f"reading the tdata took longer than {READ_TIMEOUT_SECONDS} seconds") from None
    try:
        answer = json.loads(done.stdout[:65536] or b"null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # Killed by its CPU or memory limit, or crashed: the tdata costs too much to read.
        raise TdataRefused("the tdata cannot be read within this server's limits")
    if "error" in answer:
        code = answer["error"] if answer["error"] in ("tdata_passcode", "too_many_accounts") else "invalid_tdata"
        raise TdataRefused(str(answer.get("detail", ""))[:300], code=code)
    return answer
