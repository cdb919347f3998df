"""The CMS page and the media files, outside the JSON API."""

from pathlib import Path, PurePosixPath

from csp.constants import NONE, SELF
from csp.decorators import csp_replace
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils._os import safe_join
from django.views import static
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

# The only files the media route hands out, and the type each is served as:
# gallery files carry a generated extension that matches their stored format.
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
# A media file opened on its own can run nothing and load nothing.
MEDIA_CSP = "default-src 'none'; sandbox"
# Generated names are never reused for other content, so a copy is good for a year.
MEDIA_CACHE_CONTROL = "public, max-age=31536000, immutable"


@require_safe
def serve_media(request, path):
    """Return the image at `path` under MEDIA_ROOT.

    Raises Http404 for anything but an existing JPEG/PNG/WebP/GIF file: no
    directory listing, no hidden or temporary file, no NUL, nothing outside MEDIA_ROOT
    (`..` is refused by safe_join, a symlink leading out by the resolve check).
    """
    suffix = PurePosixPath(path).suffix
    if suffix not in MEDIA_TYPES or any(part.startswith(".") for part in path.split("/")):
        raise Http404("Not found.")
    if "\x00" in path:  # no file name holds one; the filesystem calls would raise ValueError
        raise Http404("Not found.")
    root = Path(settings.MEDIA_ROOT).resolve()
    full = Path(safe_join(root, path)).resolve()
    if root not in full.parents:
        raise Http404("Not found.")
    response = static.serve(request, path, document_root=root, show_indexes=False)
    if response.status_code == 200:
        response["Content-Type"] = MEDIA_TYPES[suffix]
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cache-Control"] = MEDIA_CACHE_CONTROL
    return response


# The CMS page's policy is the site's (settings.CONTENT_SECURITY_POLICY, through django-csp, which adds
# the media origin to img-src) made narrower: images from the media origin only, no fonts, no forms.
PAGE_CSP = {"img-src": [SELF], "font-src": None, "form-action": [NONE]}


@require_safe
@ensure_csrf_cookie
@csp_replace(PAGE_CSP)
def cms_page(request):
    """Return the CMS page: a static shell whose script talks to the API with a bearer token.

    The page's `csrftoken` cookie lets its script call /api/auth/cookie/* after a reload.
    """
    response = render(
        request,
        "cms/index.html",
        {
            "max_bytes": settings.IMAGE_MAX_BYTES,
            # The shared password's form only where POST /api/cms/login would take it.
            "cms_password_login": settings.CMS_PASSWORD_LOGIN and not settings.REQUIRE_ADMIN_2FA,
        },
    )
    response["Cache-Control"] = "no-cache"
    return response
