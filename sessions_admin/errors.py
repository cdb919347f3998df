"""Every refusal of sessions_admin, each with its `code` and HTTP `status_code`, declared once.

The API, the zip import's `refused` list and the audit log all use an
exception's `code`, so one mistake has one code wherever it is made: a file
that is not SQLite is `not_sqlite` as a single upload, inside a zip, from a
session string (then under `errors.session_string`) and in the audit row.
A message never contains key material, only lengths and names.

Codes of one session file (single upload: 400 with `errors.file`, or the
status below; zip import: an entry of `refused`):

| code                   | status | reason                                                          |
|------------------------|--------|-----------------------------------------------------------------|
| `invalid_name`         | 400    | the name breaks the rule (letters, digits, `._-`, `.session`)   |
| `file_too_large`       | 413    | larger than SESSION_MAX_BYTES                                   |
| `unreadable_file`      | 400    | cannot be opened, or not a regular file (`sync_sessions`)       |
| `not_sqlite`           | 400    | empty, or not an SQLite database                                |
| `corrupt_database`     | 400    | truncated, trailing data, a bad header, fails `quick_check`     |
| `inspection_timeout`   | 400    | inspecting it took longer than the limit                        |
| `unknown_layout`       | 400    | the schema is no known Telethon or Pyrogram-family layout       |
| `newer_version`        | 400    | a library release newer than this server knows                  |
| `invalid_session_data` | 400    | the version or session rows break a rule (count, dc_id, ids)    |
| `no_auth_key`          | 400    | not logged in: no auth key, or an all-zero one                  |
| `invalid_session_string` | 400  | the library cannot decode the session string (string import)    |
| `conflict`             | 409    | the name is taken and overwrite was not asked for               |
| `case_collision`       | 409    | the name equals a stored one apart from letter case             |
| `duplicate_key`        | 409    | another stored file holds the same auth key                     |
| `auth_key_changed`     | 400    | a fenced write holds another auth key than the stored file      |

Codes of a zip entry only (in `refused`): `unsafe_path` (NUL, a control
character, a backslash, `..`, an absolute path, or a name zipfile would
rewrite), `symlink`, `not_a_regular_file`, `duplicate_name` (twice in one
archive), `corrupt_entry` (its data cannot be read as declared).

Codes of a zip archive refused whole (nothing imported): `invalid_archive`
(400), `encrypted_archive` (400), `too_many_files` (400, SESSION_IMPORT_MAX_FILES),
`archive_too_large` (413, SESSION_IMPORT_MAX_BYTES, compressed or declared),
`compression_ratio` (400, declared sizes over the archive's bytes past 100:1),
`overlapping_entries` (400, entries sharing bytes: a zip bomb).

Codes of a Telegram Desktop tdata folder (zip or folder import: an entry of
`refused` named by the folder; tdata.py): `invalid_tdata` (damaged, hostile,
or past the reader's limits), `tdata_too_large` (its key and account files
past 1 MiB), `tdata_passcode` (missing or wrong), `too_many_accounts` (more
than 6); an archive with more than 20 tdata folders is refused whole
(`too_many_tdata`, 400).

Codes of an export refused before anything is streamed (400; export.py):
`invalid_format`, `unknown_sessions`, `nothing_to_export`, `too_many_sessions`
(past SESSION_IMPORT_MAX_FILES), `missing_files` (no file in SESSIONS_DIR),
`missing_account_data` (a Pyrogram target without user id or api_id).

API pairs: `conflict` (409, the api_id exists), `api_pair_in_use` (409),
`api_id_in_file` (400 on `api_id`, the file records another api_id).

Sidecars (docs/sidecar.md): `invalid_sidecar` (400 on `sidecar`; in a zip, the
entry; the message names the key), `api_pair_mismatch` (409: a stored pair has
the sidecar's app_id with another hash).

Status ledger: `invalid_status` (400 naming `status`, `reason` or `until`).

Leases (sessions_admin/leases.py): `not_found` (404, no such lease held by
this token), `lease_lost` (409, released, broken or expired), `stale_fence`
(409, a write whose fence is not current or whose lease is not live: nothing
written), `session_leased` (409, deleting a session an engine holds).
"""

from __future__ import annotations

from adbot_admin.sizes import describe_bytes


class Refused(Exception):
    """Base of every sessions_admin refusal: `str()` is the message, `code` and `status_code` say the rest."""

    code = "invalid"
    status_code = 400
    default_detail = ""

    def __init__(self, detail=None):
        super().__init__(self.default_detail if detail is None else detail)


# --- One session file -----------------------------------------------------


class SessionFileRejected(Refused):
    """Raised for a file (or name) that is not an accepted session file."""

    code = "invalid_session_file"


class InvalidSessionFileName(SessionFileRejected):
    """Raised when a name breaks the session file name rule; the message never repeats the name."""

    code = "invalid_name"


class SessionFileTooLarge(SessionFileRejected):
    """Raised when a file is larger than SESSION_MAX_BYTES."""

    code = "file_too_large"
    status_code = 413

    @classmethod
    def over(cls, max_bytes: int) -> SessionFileTooLarge:
        return cls(f"the file is larger than {describe_bytes(max_bytes)}")


class UnreadableFile(SessionFileRejected):
    """Raised when a path cannot be opened or is not a regular file."""

    code = "unreadable_file"


class NotSQLite(SessionFileRejected):
    """Raised for an empty file or one without the SQLite header."""

    code = "not_sqlite"


class CorruptDatabase(SessionFileRejected):
    """Raised for an SQLite file that is truncated, padded, badly headed or unreadable to SQLite."""

    code = "corrupt_database"


class InspectionTimeout(SessionFileRejected):
    """Raised when inspecting a file takes longer than its time limit."""

    code = "inspection_timeout"


class UnknownLayout(SessionFileRejected):
    """Raised when the schema matches no known layout."""

    code = "unknown_layout"


class UnknownSessionVersion(SessionFileRejected):
    """Raised for a file from a library release newer than any layout this server knows."""

    code = "newer_version"


class InvalidSessionData(SessionFileRejected):
    """Raised when the version or session rows break a rule."""

    code = "invalid_session_data"


class NoAuthKey(InvalidSessionData):
    """Raised for a session that is not logged in: no auth key, or an all-zero one."""

    code = "no_auth_key"


class InvalidSessionString(Refused):
    """Raised when the library cannot decode a session string; the message never repeats it."""

    code = "invalid_session_string"


class SessionFileExists(Refused):
    """Raised when a session file name is already taken and overwriting was not asked for."""

    code = "conflict"
    status_code = 409
    default_detail = "A session file with this name exists; add ?overwrite=true to replace it."


class SessionFileNameCaseCollision(SessionFileExists):
    """Raised when a name equals a stored one apart from letter case (overwrite does not apply)."""

    code = "case_collision"

    def __init__(self, holder):
        super().__init__(
            f"The name differs from the stored {holder} only in letter case; on a case-insensitive "
            "filesystem they would be one file. Choose another name."
        )


class AuthKeyChanged(SessionFileRejected):
    """Raised when a replacement holds another auth key than the file it replaces: another account."""

    code = "auth_key_changed"
    default_detail = "the file holds another auth key than the stored one: it is another account"


class DuplicateAuthKey(Refused):
    """Raised when another stored file holds the same auth key and a duplicate was not asked for."""

    code = "duplicate_key"
    status_code = 409

    def __init__(self, holder):
        super().__init__(
            f"{holder} already holds this auth key; Telegram ends sessions whose key is used on two "
            "connections at once. Add ?allow_duplicate_key=true to store it anyway."
        )


# --- Zip archives ---------------------------------------------------------


class ArchiveRefused(Refused):
    """Raised when a zip archive is refused as a whole; `code` says why, `status_code` is 400 or 413."""

    def __init__(self, detail, *, code, status_code=400):
        super().__init__(detail)
        self.code = code
        self.status_code = status_code


class CorruptEntry(Refused):
    """Raised when an entry cannot be read back as it was declared (bad data, CRC, size, method)."""

    code = "corrupt_entry"


# --- Leases ---------------------------------------------------------------


class LeaseNotFound(Refused):
    """Raised when the lease does not exist or belongs to another service token."""

    code = "not_found"
    status_code = 404
    default_detail = "No lease with this id is held by this token."


class LeaseLost(Refused):
    """Raised when the lease was released, broken or has expired: the account is no longer the holder's."""

    code = "lease_lost"
    status_code = 409
    default_detail = "This lease is no longer live (released, broken or expired); lease the account again."


class StaleFence(Refused):
    """Raised when a write's fence is not the account's current one, or its lease is not live."""

    code = "stale_fence"
    status_code = 409
    default_detail = (
        "The fence is not the account's current one, or the lease is no longer live; nothing was written. "
        "Drop your copy of the account."
    )


class SessionLeased(Refused):
    """Raised when deleting a session that an engine holds, without force."""

    code = "session_leased"
    status_code = 409

    def __init__(self, lease):
        super().__init__(
            f"An engine ({lease.holder}) holds this session until {lease.expires_at.isoformat()}; "
            "add ?force=true to break its lease and delete it."
        )
        self.lease = lease


# --- API pairs ------------------------------------------------------------


class ApiPairExists(Refused):
    """Raised when an API pair with the same api_id exists."""

    code = "conflict"
    status_code = 409
    default_detail = "An API pair with this api_id exists."


class ApiPairInUse(Refused):
    """Raised when deleting an API pair that session files use, without force."""

    code = "api_pair_in_use"
    status_code = 409

    def __init__(self, sessions_count):
        super().__init__(
            f"{sessions_count} session file(s) use this api_id; add ?force=true to delete the pair anyway."
        )


class ApiIdRecordedInFile(Refused):
    """Raised when an admin would give a session another api_id than its file records."""

    code = "api_id_in_file"


# --- Sidecars ---------------------------------------------------------------


class SidecarInvalid(Refused):
    """Raised when a sidecar is refused; `key` names the offending key, and no value is repeated."""

    code = "invalid_sidecar"

    def __init__(self, key, detail):
        super().__init__(f"{key}: {detail}")
        self.key = key


class ApiPairMismatch(Refused):
    """Raised when a sidecar's app_id is a stored pair's with another app_hash."""

    code = "api_pair_mismatch"
    status_code = 409

    def __init__(self, api_id):
        super().__init__(
            f"app_hash: the stored API pair with app_id {api_id} has another app_hash; a session is used "
            "with the app that created it"
        )


# --- Status ledger ----------------------------------------------------------


class InvalidStatus(Refused):
    """Raised for a status change that breaks a rule; `field` names the offending input."""

    code = "invalid_status"

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
