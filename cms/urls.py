"""The gallery API, the CMS page and, when SERVE_MEDIA is on, the media files."""

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import re_path

from adbot_admin.api.routing import route

from . import views
from .api import urls as api_urls

public_urlpatterns = api_urls.public_urlpatterns
urlpatterns = [
    *api_urls.urlpatterns,
    route("cms", views.cms_page, "cms-page"),
]

# Mounted only for a local MEDIA_URL: with object storage or a web server in
# front (SERVE_MEDIA=false) the app never answers for media.
if settings.SERVE_MEDIA and not urlsplit(settings.MEDIA_URL).netloc:
    urlpatterns.append(re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$", views.serve_media, name="media"))
