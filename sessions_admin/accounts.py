"""A session's account: the row's fields from a sidecar, the sidecar from the row, and its `<name>.json`.

The row holds what the sidecar claimed (docs/sidecar.md), split so that
lists can filter and secrets stay encrypted:

- columns: `user_id`, `phone`, `username`, `first_name`, `last_name`, `api_id`;
- `device`: the device and app keys (`device`, `sdk`, `app_version`, `lang_*`);
- `proxy`: `{type, host, port, rdns}`, its credentials in `proxy_credentials`;
- `twofa_password` and `proxy_credentials`: encrypted (adbot_admin/field_encryption.py);
- `sidecar_extra`: the other canonical values (health hints, `is_premium`,
  `session_file`) and the unknown keys, so an export gives back what came in.

`app_hash` is never copied onto the row: the API pair with the session's
api_id holds it (a sidecar's pair is added or checked on import).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.files.base import ContentFile

from adbot_admin.field_encryption import decrypt_field, encrypt_field
from adbot_admin.file_storage import save_exact

from .errors import SidecarInvalid
from .models import ApiPair, SessionFile
from .sidecar import CANONICAL_KEYS, PROXY_SECRET_KEYS, Sidecar, render_sidecar

DEVICE_KEYS = ("app_version", "device", "sdk", "lang_pack", "system_lang_pack", "lang_code", "system_lang_code")
ACCOUNT_COLUMNS = ("phone", "username", "first_name", "last_name")
# Canonical keys held by their own columns or fields; every other canonical key goes to sidecar_extra.
OWN_FIELDS = frozenset({*DEVICE_KEYS, *ACCOUNT_COLUMNS, "id", "app_id", "app_hash", "twoFA", "proxy"})
SIDECAR_SUFFIX = ".json"


def sidecar_name(filename: str) -> str:
    """Return the sidecar's name for a session file name: `acct.session` -> `acct.json`."""
    return filename.removesuffix(".session") + SIDECAR_SUFFIX


def account_apply(*, session_file: SessionFile, sidecar: Sidecar) -> None:
    """Set the row's account fields from `sidecar` (not saved).

    Raises SidecarInvalid when the sidecar's `id` or `app_id` contradicts what
    the session file itself records.
    """
    values = sidecar.values
    user_id = values.get("id")
    if user_id is not None:
        if session_file.is_bot is not None and session_file.user_id not in (None, user_id):
            raise SidecarInvalid("id", "disagrees with the user id the session file records")
        session_file.user_id = user_id
    app_id = values.get("app_id")
    if app_id is not None:
        if session_file.api_id_in_file and session_file.api_id != app_id:
            raise SidecarInvalid("app_id", "disagrees with the api_id the session file records")
        session_file.api_id = app_id
    for column in ACCOUNT_COLUMNS:
        setattr(session_file, column, values.get(column, ""))
    session_file.device = {key: values[key] for key in DEVICE_KEYS if key in values}
    proxy = values.get("proxy")
    session_file.proxy = {key: proxy[key] for key in ("type", "host", "port", "rdns")} if proxy else None
    credentials = {key: proxy[key] for key in PROXY_SECRET_KEYS if proxy and key in proxy}
    encrypt_field(session_file, "proxy_credentials", json.dumps(credentials) if credentials else "")
    encrypt_field(session_file, "twofa_password", values.get("twoFA", ""))
    session_file.sidecar_extra = {
        **{key: value for key, value in values.items() if key not in OWN_FIELDS},
        **sidecar.extra,
    }


def account_sidecar(*, session_file: SessionFile, include_secrets: bool) -> Sidecar:
    """Return the row's account as a Sidecar; with `include_secrets`, decrypted secrets and the pair's app_hash.

    Without secrets the proxy carries `has_credentials` in their place.
    """
    values = {
        "app_id": session_file.api_id,
        "id": session_file.user_id,
        **{column: getattr(session_file, column) or None for column in ACCOUNT_COLUMNS},
        **session_file.device,
    }
    extra = {}
    for key, value in session_file.sidecar_extra.items():
        (values if key in CANONICAL_KEYS else extra)[key] = value
    if session_file.proxy:
        proxy = dict(session_file.proxy)
        if include_secrets:
            credentials = decrypt_field(session_file, "proxy_credentials")
            proxy.update(json.loads(credentials) if credentials else {})
        else:
            proxy["has_credentials"] = bool(session_file.proxy_credentials)
        values["proxy"] = proxy
    if include_secrets:
        values["twoFA"] = decrypt_field(session_file, "twofa_password") or None
        if session_file.api_id is not None:
            values["app_hash"] = (
                ApiPair.objects.filter(api_id=session_file.api_id).values_list("api_hash", flat=True).first()
            )
    ordered = {key: values[key] for key in CANONICAL_KEYS if values.get(key) is not None}
    return Sidecar(values=ordered, extra=extra)


def account_secrets(*, session_file: SessionFile) -> dict:
    """Return {"twofa_password", "proxy"} in plain text: the proxy with its credentials, or None."""
    sidecar = account_sidecar(session_file=session_file, include_secrets=True)
    return {"twofa_password": sidecar.get("twoFA"), "proxy": sidecar.get("proxy")}


def sidecar_bytes(*, session_file: SessionFile) -> bytes:
    """Return the `<name>.json` the row should have on disk (secrets only with SIDECAR_SECRETS_ON_DISK)."""
    include_secrets = settings.SIDECAR_SECRETS_ON_DISK
    sidecar = account_sidecar(session_file=session_file, include_secrets=include_secrets)
    return render_sidecar(sidecar=sidecar, include_secrets=include_secrets)


def sidecar_place(*, storage, journal, session_file: SessionFile) -> None:
    """Write the row's `<name>.json` beside its file, atomically and 0600, undoable through `journal`."""
    name = sidecar_name(session_file.filename)
    journal.set_aside(name, keep_in_place=True)
    save_exact(storage, name, ContentFile(sidecar_bytes(session_file=session_file)), overwrite=True)
    journal.record_placed(name)
