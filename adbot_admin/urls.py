from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import path

from adbot_admin.api import urls as auth_urls
from cms import urls as cms_urls
from sessions_admin.api import urls as sessions_urls

# One flat list, hot routes first: a failed include() costs a copy of every
# pattern it tried, on every request that passes it by.
urlpatterns = [
    *sessions_urls.urlpatterns,
    *cms_urls.urlpatterns,
    *auth_urls.urlpatterns,
    path("admin/", admin.site.urls),
]

if settings.BENCH_FLOOR:
    # The benchmarks' floor: plain Django, no DRF, no auth. Off unless BENCH_FLOOR is set.
    # First in the list, so that URL resolution costs it no more than any route.
    urlpatterns.insert(0, path("bench/floor", lambda request: JsonResponse({"ok": True}), name="bench-floor"))

handler400 = "adbot_admin.api.exceptions.bad_request"
handler403 = "adbot_admin.api.exceptions.permission_denied"
handler404 = "adbot_admin.api.exceptions.not_found"
handler500 = "adbot_admin.api.exceptions.server_error"
