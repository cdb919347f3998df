"""Peak RSS growth of the gunicorn workers while uploading a 10 MiB session file and a large image.

    BENCH_TOKEN=... python bench/upload_memory.py URL MASTER_PID      prints one JSON line
"""

import io
import json
import os
import sys
import tempfile
from pathlib import Path

import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sessions_admin.tests import session_files  # noqa: E402

MIB = 1024 * 1024


def workers(master_pid):
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_growth(master_pid, upload):
    """Return the largest growth of any worker's peak RSS (MiB) across `upload()`."""
    before = {}
    for pid in workers(master_pid):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
        before[pid] = status_kib(pid, "VmRSS")
    response = upload()
    assert response.status_code == 201, response.text
    return max(status_kib(pid, "VmHWM") - rss for pid, rss in before.items()) / 1024


def main():
    url, master_pid, token = sys.argv[1], int(sys.argv[2]), os.environ["BENCH_TOKEN"]
    headers = {"Authorization": f"Bearer {token}"}
    probe = session_files.large_session(Path(tempfile.mkdtemp()), name="probe.session", rows=20_000)
    rows = int(20_000 * (10 * MIB - 640 * 1024) / probe.stat().st_size)
    session = session_files.large_session(Path(tempfile.mkdtemp()), name="bench-10mib.session", rows=rows)

    def upload_session():
        with session.open("rb") as handle:
            return requests.post(f"{url}/api/admin/sessions?overwrite=true", headers=headers,
                                 files={"file": (session.name, handle)}, timeout=120)

    upload_session()
    session_mib = peak_growth(master_pid, upload_session)

    side = 6000  # 36 megapixels, under the 40 MP default
    image = io.BytesIO()
    Image.new("RGB", (side, side), (40, 90, 160)).save(image, "PNG", compress_level=1)

    def upload_image():
        image.seek(0)
        return requests.post(f"{url}/api/cms/gallery-images", headers=headers,
                             files={"image": ("big.png", image, "image/png")}, timeout=300)

    image_mib = peak_growth(master_pid, upload_image)
    print(json.dumps({
        "session_bytes": session.stat().st_size, "session_mib": session_mib,
        "image_megapixels": side * side / 1e6, "image_mib": image_mib,
    }))


if __name__ == "__main__":
    main()
