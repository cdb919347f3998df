"""Where the time of a hot request goes, in-process, with pyinstrument.

    python manage.py shell < bench/profile.py     (with the bench's DATABASE_URL / CACHE_URL set)

Writes bench/profiles/<name>.txt for the floor, the admin sessions list and the public gallery.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from pyinstrument import Profiler

from adbot_admin.tokens import AccessToken

OUT = Path(settings.BASE_DIR) / "bench" / "profiles"
OUT.mkdir(exist_ok=True)
user = get_user_model().objects.get(username="bench-admin")
token = AccessToken.for_user(user)
token["role"] = user.role
client = Client(HTTP_HOST="127.0.0.1")
auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
backend = "redis" if "Redis" in settings.CACHES["default"]["BACKEND"] else "locmem"

for name, path, headers in [
    ("floor", "/bench/floor", {}),
    ("admin-sessions-list", "/api/admin/sessions", auth),
    ("public-gallery", "/api/public/gallery", {}),
]:
    for _ in range(50):
        client.get(path, **headers)
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(1000):
        client.get(path, **headers)
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    (OUT / f"{name}-{backend}.txt").write_text(text)
    print(name, backend, f"{profiler.last_session.duration:.2f} s for 1000 requests")
