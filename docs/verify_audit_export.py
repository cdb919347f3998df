#!/usr/bin/env python3
"""Check an audit export (GET /api/admin/audit/export?format=jsonl) with the chain key, outside the server.

    AUDIT_CHAIN_KEY=... [AUDIT_CHAIN_KEY_FALLBACKS=old,older] python3 verify_audit_export.py export.jsonl

Standard library only. Every row's MAC must be right, seqs must increase, and a row
whose seq follows the one before it must name that row's MAC as `prev` (an export
filtered by actor, action, ... skips seqs; with --complete a skipped seq fails too).
"""

import hashlib
import hmac
import json
import os
import sys

keys = [os.environ["AUDIT_CHAIN_KEY"], *os.environ.get("AUDIT_CHAIN_KEY_FALLBACKS", "").split(",")]
ring = {hashlib.sha256(k.strip().encode()).hexdigest()[:16]: k.strip().encode() for k in keys if k.strip()}
complete, last, count = "--complete" in sys.argv, None, 0
with open([a for a in sys.argv[1:] if a != "--complete"][0], encoding="utf-8") as export:
    for line in export:
        row = json.loads(line)
        prev, mac = row.pop("prev"), row.pop("mac")
        message = prev.encode() + b"\n" + json.dumps(row, sort_keys=True, separators=(",", ":")).encode()
        key = ring.get(row["kid"])
        if key is None or not hmac.compare_digest(mac, hmac.new(key, message, hashlib.sha256).hexdigest()):
            sys.exit(f"seq {row['seq']}: MAC does not match (edited, forged, or another key)")
        if last and (row["seq"] <= last[0] or (row["seq"] == last[0] + 1 and prev != last[1])):
            sys.exit(f"seq {row['seq']}: does not follow seq {last[0]} (inserted or reordered)")
        if last and complete and row["seq"] != last[0] + 1:
            sys.exit(f"seq {last[0] + 1}: missing")
        last, count = (row["seq"], mac), count + 1
print(f"{count} row(s) verified" + (f", seq {last[0]} last" if last else ""))
