"""Where the time of a hot request goes, in-process, with pyinstrument.

    python manage.py shell < bench/profile.py     (with the bench's DATABASE_URL / CACHE_URL set)

Writes bench/profiles/<name>.txt for the floor, the admin sessions list and the public gallery.
"""

from django.conf import settings
from django.test import Client

from bench.inprocess import bench_auth, profile

client = Client(HTTP_HOST="127.0.0.1")
auth = bench_auth()
backend = "redis" if "Redis" in settings.CACHES["default"]["BACKEND"] else "locmem"

for name, path, headers in [
    ("floor", "/bench/floor", {}),
    ("admin-sessions-list", "/api/admin/sessions", auth),
    ("public-gallery", "/api/public/gallery", {}),
]:
    for _ in range(50):
        client.get(path, **headers)
    profiler = profile(client, path, headers, name=f"{name}-{backend}")
    print(name, backend, f"{profiler.last_session.duration:.2f} s for 1000 requests")
