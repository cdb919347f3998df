from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import path
from django.views.generic import RedirectView

from adbot_admin.api import urls as auth_urls
from cms import urls as cms_urls
from sessions_admin.api import urls as sessions_urls

# One flat list, hot routes first: a failed include() costs a copy of every
# pattern it tried, on every request that passes it by.
urlpatterns = [
    *cms_urls.public_urlpatterns,
    *sessions_urls.urlpatterns,
    *cms_urls.urlpatterns,
    *auth_urls.urlpatterns,
    path("admin/", admin.site.urls),
    # APPEND_SLASH is off (a redirect would drop a POST body): this one is spelled out.
    path("admin", RedirectView.as_view(url="/admin/", permanent=True)),
    # The admin site's "View site" link goes here too.
    path("", RedirectView.as_view(url="/api/docs")),
]

if settings.BENCH_FLOOR:
    # The benchmarks' floor: plain Django, no DRF, no auth. Off unless BENCH_FLOOR is set.
    # First in the list, so that URL resolution costs it no more than any route.
    urlpatterns.insert(0, path("bench/floor", lambda request: JsonResponse({"ok": True}), name="bench-floor"))

handler400 = "adbot_admin.http_errors.bad_request"
handler403 = "adbot_admin.http_errors.permission_denied"
handler404 = "adbot_admin.http_errors.not_found"
handler500 = "adbot_admin.http_errors.server_error"
