from adbot_admin.api.routing import OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("api/admin/sessions", views.SessionFileViewSet, basename="session-file")
router.register("api/admin/api-pairs", views.ApiPairViewSet, basename="api-pair")

urlpatterns = router.urls
