from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path

urlpatterns = [
    path("", include("adbot_admin.api.urls")),
    path("", include("cms.urls")),
    path("", include("sessions_admin.api.urls")),
    path("admin/", admin.site.urls),
]

if settings.BENCH_FLOOR:
    # The benchmarks' floor: plain Django, no DRF, no auth. Off unless BENCH_FLOOR is set.
    urlpatterns.append(path("bench/floor", lambda request: JsonResponse({"ok": True}), name="bench-floor"))

handler400 = "adbot_admin.api.exceptions.bad_request"
handler403 = "adbot_admin.api.exceptions.permission_denied"
handler404 = "adbot_admin.api.exceptions.not_found"
handler500 = "adbot_admin.api.exceptions.server_error"
