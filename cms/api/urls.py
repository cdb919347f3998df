from adbot_admin.api.routing import OptionalSlashRouter, route

from . import views

router = OptionalSlashRouter()
router.register("api/cms/gallery-images", views.GalleryImageViewSet, basename="gallery-image")

urlpatterns = [
    route("api/public/gallery", views.PublicGalleryView.as_view(), "public-gallery"),
    *router.urls,
]
