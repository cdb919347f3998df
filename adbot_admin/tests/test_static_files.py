"""Static files: hashed names once collected (as `dev.py serve` does), and a suite that never reads them."""

import re
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_suite_renders_from_its_own_empty_static_root():
    checkout_root = django_settings.BASE_DIR / "staticfiles"
    assert django_settings.STATIC_ROOT != checkout_root
    response = Client().get("/admin/login/")
    # Unhashed names: no manifest is read, whatever `serve` collected into the checkout.
    assert b'href="/static/admin/css/base.css"' in response.content


def test_collected_files_are_served_under_their_hashed_names(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "collected"
    call_command("collectstatic", "--no-input", stdout=StringIO())
    assert (settings.STATIC_ROOT / "staticfiles.json").is_file()

    client = Client()
    page = client.get("/admin/login/").content.decode()
    hashed = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert hashed, "the login page links the unhashed stylesheet"
    response = client.get(hashed.group(1))
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
