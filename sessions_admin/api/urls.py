from adbot_admin.api.routing import OptionalSlashRouter, route

from . import engine_views, views

router = OptionalSlashRouter()
router.register("api/admin/sessions", views.SessionFileViewSet, basename="session-file")
router.register("api/admin/api-pairs", views.ApiPairViewSet, basename="api-pair")

LEASE = "api/engine/leases/(?P<lease_id>[0-9]{1,18})"

urlpatterns = [
    *router.urls,
    route("api/engine/leases", engine_views.LeaseGrantView.as_view(), "lease-grant"),
    route(f"{LEASE}/renew", engine_views.LeaseRenewView.as_view(), "lease-renew"),
    route(f"{LEASE}/release", engine_views.LeaseReleaseView.as_view(), "lease-release"),
    route(f"{LEASE}/file", engine_views.LeaseFileView.as_view(), "lease-file"),
    route(f"{LEASE}/sidecar", engine_views.LeaseSidecarView.as_view(), "lease-sidecar"),
    route("api/admin/leases", engine_views.AdminLeaseList.as_view(), "admin-lease-list"),
    route("api/admin/leases/(?P<pk>[0-9]{1,18})", engine_views.AdminLeaseDetail.as_view(), "admin-lease-detail"),
]
