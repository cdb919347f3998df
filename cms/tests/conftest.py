"""Fixtures for the gallery's tests."""

from pathlib import Path

import pytest
from django.conf import settings

from cms.models import GalleryImage

from .factories import GalleryImageFactory

GALLERY_URL = "/api/cms/gallery-images"
PUBLIC_URL = "/api/public/gallery"


def media_files():
    """Return every file under MEDIA_ROOT, as paths relative to it (hidden ones too)."""
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return set()
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def stored_bytes(name):
    return (Path(settings.MEDIA_ROOT) / name).read_bytes()


@pytest.fixture
def snapshot(db):
    """Return a function that says whether MEDIA_ROOT and the gallery table are as they were."""
    files = media_files()
    rows = list(GalleryImage.objects.values_list("id", flat=True))

    def unchanged():
        assert media_files() == files
        assert list(GalleryImage.objects.values_list("id", flat=True)) == rows
        return True

    return unchanged


@pytest.fixture
def make_images(db):
    """Return a function making `count` stored images (files included)."""

    def make(count, **fields):
        return [GalleryImageFactory(**fields) for _ in range(count)]

    return make
