"""The Content-Security-Policy of the server's HTML pages (admin site, API docs, CMS page), through django-csp.

A page narrows the site's policy with django-csp's decorators (the CMS page's
`csp_replace`); media files set their own header, which django-csp never replaces.
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.core.files.storage import storages


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """Sends CONTENT_SECURITY_POLICY on HTML responses, allowing images from the media origin."""

    def process_response(self, request, response):
        # A policy governs documents; JSON, scripts and images are never rendered as one.
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        # The URL of any name shows where the storage serves gallery images from: another origin for object storage.
        media = urlsplit(storages["default"].url("gallery/probe.jpg"))
        if media.netloc:
            update = dict(parts.update or {})
            update["img-src"] = [*update.get("img-src", []), f"{media.scheme}://{media.netloc}"]
            parts.update = update
        return parts
