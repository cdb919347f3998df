from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("adbot_admin.api.urls")),
    path("", include("cms.urls")),
    path("", include("sessions_admin.api.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "adbot_admin.api.exceptions.bad_request"
handler403 = "adbot_admin.api.exceptions.permission_denied"
handler404 = "adbot_admin.api.exceptions.not_found"
handler500 = "adbot_admin.api.exceptions.server_error"
