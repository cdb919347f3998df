"""Child process: read a Telegram Desktop tdata folder and write each account as a Telethon session file.

    python -I tdata_reader.py TDATA_FOLDER OUTPUT_FOLDER   (the passcode, if any, on stdin)

Run by sessions_admin.tdata, never imported by the server: a hostile tdata
can declare an account count of two billion (opentele2 then loops that many
times) or sizes that make it allocate, so it is read in a process of its own
under CPU-time and address-space limits, which the server kills on a
deadline. Standard library plus opentele2 and TGConvertor only: no Django.

opentele2 loads the folder (one key derivation for all accounts): TGConvertor's
`TDataSession.from_tdata` reads a single account per load and cannot say how
many there are. Each account then goes through TGConvertor's own checks
(`TDataSession`) and its Telethon writer (`SessionManager.to_telethon_file`).

Prints one JSON object on stdout: {"accounts": [{"file", "user_id", "dc_id"}]}
or {"error": code, "detail": text}. Neither ever holds key material.
"""

import json
import resource
import sys

# Telegram Desktop 7.x keeps at most 6 accounts in one tdata (opentele2's kMaxAccounts).
MAX_ACCOUNTS = 6
CPU_SECONDS = 20
ADDRESS_SPACE_BYTES = 1024 * 1024 * 1024
OUTPUT_FILE_BYTES = 4 * 1024 * 1024


def limit_resources():
    for limit, value in (
        (resource.RLIMIT_CPU, CPU_SECONDS),
        (resource.RLIMIT_AS, ADDRESS_SPACE_BYTES),
        (resource.RLIMIT_FSIZE, OUTPUT_FILE_BYTES),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))


def answer(payload, status=0):
    sys.stdout.write(json.dumps(payload))
    sys.stdout.flush()
    sys.exit(status)


def refuse(code, detail):
    answer({"error": code, "detail": detail}, status=2)


def read(folder, output, passcode):
    import asyncio
    import logging
    from pathlib import Path

    logging.disable(logging.CRITICAL)
    from opentele2.exception import OpenTeleException, TDataBadDecryptKey
    from opentele2.td import TDesktop
    from TGConvertor import API, SessionManager, TDataSession, ValidationError

    try:
        desktop = TDesktop(basePath=folder, passcode=passcode)
        accounts = list(desktop.accounts)
    except TDataBadDecryptKey:
        if passcode:
            refuse("tdata_passcode", "the tdata_passcode does not open this tdata")
        refuse("tdata_passcode", "this tdata is protected by a local passcode; send it as tdata_passcode")
    except MemoryError:
        refuse("invalid_tdata", "the tdata declares more data than it may hold")
    except (OpenTeleException, Exception) as exc:
        refuse("invalid_tdata", f"Telegram Desktop data cannot be read ({type(exc).__name__})")
    if not accounts:
        refuse("invalid_tdata", "the tdata holds no signed-in account")
    if len(accounts) > MAX_ACCOUNTS:
        refuse("too_many_accounts", f"the tdata holds {len(accounts)} accounts; Telegram Desktop keeps at most 6")
    written = []
    for number, account in enumerate(accounts):
        try:
            session = TDataSession(dc_id=int(account.MainDcId), auth_key=account.authKey.key, user_id=account.UserId)
            manager = SessionManager(
                dc_id=session.dc_id, auth_key=session.auth_key, user_id=session.user_id, api=API.TelegramDesktop
            )
            name = f"{number}.session"
            asyncio.run(manager.to_telethon_file(Path(output) / name))
        except ValidationError as exc:
            refuse("invalid_tdata", f"account {number + 1} of the tdata is not usable ({exc})")
        except (OpenTeleException, Exception) as exc:
            refuse("invalid_tdata", f"account {number + 1} of the tdata cannot be read ({type(exc).__name__})")
        written.append({"file": name, "user_id": session.user_id, "dc_id": session.dc_id})
    answer({"accounts": written})


if __name__ == "__main__":
    limit_resources()
    if len(sys.argv) != 3:
        refuse("usage", "tdata_reader.py TDATA_FOLDER OUTPUT_FOLDER")
    read(sys.argv[1], sys.argv[2], sys.stdin.buffer.read().decode("utf-8", "replace"))
