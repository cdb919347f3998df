"""The GalleryImage admin: it lists thumbnails and goes through the same services as the API."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from adbot_admin import slots
from adbot_admin.models import AuditEvent, AuthMethod, Outcome
from cms import services
from cms.models import GalleryImage

from . import factories, image_files
from .conftest import media_files
from .factories import GalleryImageFactory

CHANGELIST = "/admin/cms/galleryimage/"
ADD = "/admin/cms/galleryimage/add/"


def test_changelist_shows_thumbnails_and_metadata(admin_client):
    image = GalleryImageFactory(title="Lighthouse", alt_text="A lighthouse at dawn")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'src="/media/{image.thumbnail_name}"' in html
    assert "Lighthouse" in html and f"{image.width}×{image.height}" in html


def _changelist_queries(client):
    client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as context:
        assert client.get(CHANGELIST).status_code == 200
    return len(context.captured_queries)


def test_changelist_query_count_does_not_grow_with_rows(admin_client):
    for _ in range(3):
        GalleryImageFactory()
    few = _changelist_queries(admin_client)
    for _ in range(27):
        GalleryImageFactory()

    assert _changelist_queries(admin_client) == few


def test_add_goes_through_the_upload_service(admin_client):
    data = {
        "image": SimpleUploadedFile("holiday.jpg", image_files.jpeg_bytes(exif_gps=True), content_type="image/jpeg"),
        "title": "Holiday",
        "alt_text": "A beach",
        "position": "",
        "published": "on",
    }

    response = admin_client.post(ADD, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    image = GalleryImage.objects.get()
    assert (image.title, image.alt_text, image.published, image.format) == ("Holiday", "A beach", True, "jpeg")
    assert media_files() == {image.file_name, image.thumbnail_name}
    assert "holiday" not in image.file_name
    event = AuditEvent.objects.get(action="gallery_image.upload")
    assert (event.actor, event.auth_method, event.target) == ("alice", AuthMethod.ADMIN_SITE, str(image.pk))
    # The change page of the stored row opens.
    assert admin_client.get(f"{CHANGELIST}{image.pk}/change/").status_code == 200


def test_add_refuses_a_bad_file_in_the_form(admin_client, snapshot):
    data = {
        "image": SimpleUploadedFile("photo.jpg", image_files.html_renamed_as_jpg(), content_type="image/jpeg"),
        "title": "Not a photo",
        "alt_text": "",
        "position": "",
    }

    response = admin_client.post(ADD, data)

    assert response.status_code == 200
    assert "file is not a JPEG, PNG, WebP or GIF image" in response.content.decode()
    assert snapshot()


def test_add_while_every_decode_slot_is_busy_says_so_and_stores_nothing(admin_client, snapshot, settings):
    settings.IMAGE_DECODE_SLOTS = 1
    settings.IMAGE_DECODE_WAIT = 0
    data = {
        "image": SimpleUploadedFile("photo.png", image_files.png_bytes(), content_type="image/png"),
        "title": "Queued",
        "alt_text": "",
        "position": "",
    }

    with slots.held(services.DECODE_SLOTS, 1, wait=0, busy=AssertionError("the slot was not free")):
        response = admin_client.post(ADD, data)

    assert response.status_code == 200
    assert "The server is busy with other images; nothing was stored. Try again in 1 s." in response.content.decode()
    assert snapshot()


def test_a_scaled_down_image_shows_its_uploaded_size(admin_client, settings):
    settings.IMAGE_MAX_SIDE = 120
    image = GalleryImageFactory(upload=factories.upload(image_files.png_bytes(600, 400)))

    html = admin_client.get(f"{CHANGELIST}{image.pk}/change/").content.decode()

    assert "120×80 (uploaded 600×400)" in html


def test_change_goes_through_the_update_service(admin_client):
    image = GalleryImageFactory(title="Old")
    revision_before = GalleryImage.objects.get(pk=image.pk).updated_at

    response = admin_client.post(
        f"{CHANGELIST}{image.pk}/change/",
        {"title": "New", "alt_text": image.alt_text, "position": image.position, "published": "on"},
    )

    assert response.status_code == 302
    image.refresh_from_db()
    assert image.title == "New" and image.updated_at > revision_before
    event = AuditEvent.objects.get(action="gallery_image.update")
    assert event.detail == {"fields": ["title"]} and event.auth_method == AuthMethod.ADMIN_SITE


def test_list_editable_goes_through_the_update_service(admin_client):
    image = GalleryImageFactory(position=0)

    response = admin_client.post(
        CHANGELIST,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(image.pk),
            "form-0-position": "5",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    image.refresh_from_db()
    assert image.position == 5 and image.published is False
    assert AuditEvent.objects.get(action="gallery_image.update").detail == {"fields": ["position", "published"]}


def test_delete_goes_through_the_delete_service(admin_client, django_capture_on_commit_callbacks):
    image = GalleryImageFactory()
    keep = GalleryImageFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CHANGELIST}{image.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(GalleryImage.objects.all()) == [keep]
    assert media_files() == {keep.file_name, keep.thumbnail_name}
    assert AuditEvent.objects.filter(action="gallery_image.delete", outcome=Outcome.SUCCESS).count() == 1


def test_bulk_delete_action_goes_through_the_delete_service(admin_client, django_capture_on_commit_callbacks):
    doomed = [GalleryImageFactory() for _ in range(2)]
    keep = GalleryImageFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "delete_selected", "_selected_action": [str(image.pk) for image in doomed], "post": "yes"},
        )

    assert response.status_code == 302
    assert list(GalleryImage.objects.all()) == [keep]
    assert media_files() == {keep.file_name, keep.thumbnail_name}
    assert AuditEvent.objects.filter(action="gallery_image.delete").count() == 2


@pytest.mark.parametrize("path", [CHANGELIST, ADD])
def test_admin_pages_need_a_staff_login(client, db, path):
    response = client.get(path)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
