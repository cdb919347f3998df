from adbot_admin.api.routing import OptionalSlashRouter, route

from . import views

router = OptionalSlashRouter()
router.register("api/cms/gallery-images", views.GalleryImageViewSet, basename="gallery-image")

# Apart, so the project can list it first: every page of the public site asks for it.
public_urlpatterns = [route("api/public/gallery", views.PublicGalleryView.as_view(), "public-gallery")]
urlpatterns = router.urls
