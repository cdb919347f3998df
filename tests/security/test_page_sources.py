"""Every page the server renders loads only from its own origin, under a policy without unsafe code.

Pages: the admin site (login, index, every model's list and add form), the
CMS page and the API docs. A CDN, an `@latest` URL or an inline script would
each show here.
"""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL_ATTRIBUTES = {"src", "href", "action", "srcset", "poster", "data", "formaction", "xlink:href"}


class PageSources(HTMLParser):
    """Collects every URL an element names, and the bodies of inline scripts and styles."""

    def __init__(self):
        super().__init__()
        self.urls = []
        self.inline = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name in URL_ATTRIBUTES and value:
                self.urls += [part.split()[0] for part in value.split(",")] if name == "srcset" else [value]
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}={value!r}")
        executable = tag == "script" and attrs.get("type", "text/javascript") in {"text/javascript", "module"}
        self._open = tag if (executable and "src" not in attrs) or tag == "style" else None

    def handle_data(self, data):
        if self._open and data.strip():
            self.inline.append(f"<{self._open}> {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        self._open = None


def sources(html):
    parser = PageSources()
    parser.feed(html)
    return parser


def foreign(urls):
    """Return the URLs that leave the origin of the page (http://testserver)."""
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in ("", "http") or urlsplit(url).netloc not in ("", "testserver")
    ]


def admin_pages():
    pages = ["/admin/", "/admin/password_change/", "/admin/passkeys/"]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        pages.append(reverse("admin:{}_{}_add".format(*info)))
    return pages


@pytest.fixture
def staff_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def assert_same_origin_page(response):
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html")
    page = sources(response.content.decode())
    assert page.urls, "no URL found: the parser saw nothing"
    assert foreign(page.urls) == []
    assert page.inline == []


def test_the_admin_login_page_loads_only_from_its_own_origin():
    assert_same_origin_page(Client().get("/admin/login/"))


def test_every_admin_page_loads_only_from_its_own_origin(staff_client):
    pages = admin_pages()
    assert len(pages) >= 10
    for path in pages:
        response = staff_client.get(path)
        if response.status_code == 403:  # a model the admin may not add to (audit events)
            continue
        assert_same_origin_page(response)


def test_the_cms_page_loads_only_from_its_own_origin():
    assert_same_origin_page(Client().get("/cms/"))


def test_the_api_docs_load_only_from_the_app_itself():
    client = Client()
    response = client.get("/api/docs")
    assert_same_origin_page(response)
    page = sources(response.content.decode())
    scripts = [url for url in page.urls if url.endswith(".js") or "script" in url]
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in scripts
    # Every file the page names is served by the app itself.
    for url in page.urls:
        assert client.get(url).status_code == 200, url
    init_script = client.get("/api/docs?script=")
    assert init_script["Content-Type"].startswith("application/javascript")
    assert b'"/api/schema' in init_script.content
    # Swagger UI would send the schema to swagger.io's validator unless told not to.
    assert b'"validatorUrl": null' in init_script.content


def policy(response):
    """Return the response's Content-Security-Policy as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs"])
def test_admin_and_docs_pages_send_a_policy_without_unsafe_code(path):
    directives = policy(Client().get(path))
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    every_source = {value for values in directives.values() for value in values}
    assert not every_source & {"'unsafe-eval'", "'unsafe-inline'", "'unsafe-hashes'", "*", "https:", "http:"}


def test_admin_pages_after_login_send_the_policy(staff_client):
    assert policy(staff_client.get("/admin/"))["script-src"] == ["'self'"]


def test_the_cms_page_keeps_its_own_policy():
    directives = policy(Client().get("/cms/"))
    assert directives["form-action"] == ["'none'"]
    assert directives["img-src"] == ["'self'"]


def test_api_answers_carry_no_page_policy(api_client):
    assert "Content-Security-Policy" not in api_client.get("/api/health")


def test_images_from_object_storage_are_allowed_by_the_admin_policy(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "gallery", "custom_domain": "media.example.com", "querystring_auth": False},
        },
    }
    directives = policy(Client().get("/admin/login/"))
    assert directives["img-src"] == ["'self'", "data:", "https://media.example.com"]


def test_the_cms_page_allows_images_from_object_storage_too(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "gallery", "custom_domain": "media.example.com", "querystring_auth": False},
        },
    }
    directives = policy(Client().get("/cms/"))
    assert directives["img-src"] == ["'self'", "https://media.example.com"]
    assert directives["form-action"] == ["'none'"] and "font-src" not in directives
