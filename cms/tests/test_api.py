"""The gallery API over HTTP: upload, refusals, media serving, listing, edit, reorder, delete, public list."""

import importlib
import io
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import clear_url_caches
from django.utils import timezone
from PIL import Image, ImageChops, ImageStat
from rest_framework_simplejwt.tokens import AccessToken

from adbot_admin import slots
from adbot_admin.models import AuditEvent, Outcome
from cms import services
from cms.api import views
from cms.models import GalleryImage, GalleryRevision

from . import image_files
from .conftest import GALLERY_URL, PUBLIC_URL, media_files, stored_bytes
from .factories import GalleryImageFactory

IMAGE_KEYS = {
    "id",
    "url",
    "thumbnail_url",
    "width",
    "height",
    "original_width",
    "original_height",
    "format",
    "size",
    "title",
    "alt_text",
    "position",
    "published",
    "created_at",
}
PUBLIC_KEYS = {
    "id",
    "url",
    "thumbnail_url",
    "width",
    "height",
    "original_width",
    "original_height",
    "title",
    "alt_text",
    "position",
}
STORED_NAME = re.compile(r"^gallery/[0-9a-f]{32}\.(jpg|png|webp|gif)$")
THUMB_NAME = re.compile(r"^gallery/[0-9a-f]{32}-thumb\.(jpg|png|webp|gif)$")


def post_image(client, data, *, name="photo.png", content_type="image/png", **fields):
    payload = {"image": SimpleUploadedFile(name, data, content_type=content_type), **fields}
    return client.post(GALLERY_URL, payload, format="multipart")


def media_path(url):
    """Return the MEDIA_ROOT-relative name of an absolute media URL."""
    return url.split(settings.MEDIA_URL, 1)[1]


def served_bytes(response):
    return b"".join(response.streaming_content)


def upload_audits(outcome):
    return AuditEvent.objects.filter(action="gallery_image.upload", outcome=outcome)


# --- upload: accepted ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt", "content_type"),
    [
        (image_files.jpeg_bytes(), "jpeg", "image/jpeg"),
        (image_files.png_bytes(), "png", "image/png"),
        (image_files.webp_bytes(), "webp", "image/webp"),
        (image_files.gif_bytes(), "gif", "image/gif"),
        (image_files.gif_bytes(frames=3), "gif", "image/gif"),
        (image_files.webp_bytes(frames=3), "webp", "image/webp"),
        (image_files.apng_bytes(), "png", "image/png"),
    ],
    ids=["jpeg", "png", "webp", "gif", "animated-gif", "animated-webp", "apng"],
)
def test_every_accepted_format_is_stored_and_served_as_itself(admin_api_client, api_client, data, fmt, content_type):
    response = post_image(
        admin_api_client,
        data,
        name="whatever.bin",
        content_type="application/octet-stream",
        title="Harbour",
        alt_text="Boats at dusk",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == IMAGE_KEYS
    assert body["format"] == fmt
    assert (body["width"], body["height"]) == Image.open(io.BytesIO(data)).size
    assert (body["original_width"], body["original_height"]) == (body["width"], body["height"])
    assert body["title"] == "Harbour" and body["alt_text"] == "Boats at dusk"
    assert body["published"] is True
    image = GalleryImage.objects.get(pk=body["id"])
    assert STORED_NAME.match(image.file_name) and THUMB_NAME.match(image.thumbnail_name)
    assert image.file_name.removesuffix("." + image.file_name.rsplit(".", 1)[1]) + "-thumb" in image.thumbnail_name
    assert media_files() == {image.file_name, image.thumbnail_name}
    assert body["size"] == len(stored_bytes(image.file_name))
    assert body["url"] == f"http://testserver/media/{image.file_name}"
    assert body["thumbnail_url"] == f"http://testserver/media/{image.thumbnail_name}"

    for url in (body["url"], body["thumbnail_url"]):
        served = api_client.get(url)
        assert served.status_code == 200
        assert served["Content-Type"] == content_type
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert "immutable" in served["Cache-Control"] and "max-age=31536000" in served["Cache-Control"]
        assert served_bytes(served) == stored_bytes(media_path(url))
        assert Image.open(io.BytesIO(stored_bytes(media_path(url)))).format == fmt.upper().replace("JPG", "JPEG")
    assert upload_audits(Outcome.SUCCESS).filter(target=str(image.pk), actor="alice").exists()


def test_upload_larger_than_the_in_memory_limit_is_streamed_and_accepted(admin_api_client, settings):
    data = image_files._save(image_files._noise(1100, 1000), "PNG")
    assert len(data) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE  # Django spools it to a temporary file

    response = post_image(admin_api_client, data)

    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (1100, 1000)


def test_uploaded_name_is_never_used(admin_api_client):
    response = post_image(admin_api_client, image_files.png_bytes(), name="../../evil name<script>.png")

    assert response.status_code == 201
    assert all("evil" not in name for name in media_files())
    assert STORED_NAME.match(GalleryImage.objects.get().file_name)


def test_defaults_published_and_appends_at_the_end(admin_api_client):
    first = post_image(admin_api_client, image_files.png_bytes()).json()
    second = post_image(admin_api_client, image_files.png_bytes()).json()

    assert first["published"] is True and first["title"] == "" and first["alt_text"] == ""
    assert second["position"] == first["position"] + 1


def test_metadata_fields_are_taken(admin_api_client):
    body = post_image(admin_api_client, image_files.png_bytes(), published="false", position="7").json()

    assert body["published"] is False
    assert body["position"] == 7


def test_thumbnail_is_made_once_at_upload_within_400px(admin_api_client):
    body = post_image(admin_api_client, image_files.jpeg_bytes(1200, 600), name="p.jpg").json()
    image = GalleryImage.objects.get(pk=body["id"])

    thumbnail = Image.open(io.BytesIO(stored_bytes(image.thumbnail_name)))
    assert thumbnail.size == (400, 200)
    assert (body["width"], body["height"]) == (1200, 600)


@pytest.mark.parametrize(
    "data",
    [
        image_files.jpeg_bytes(exif_gps=True),
        image_files.png_bytes(exif_gps=True),
        image_files.webp_bytes(exif_gps=True),
    ],
    ids=["jpeg", "png", "webp"],
)
def test_exif_and_gps_are_stripped_from_stored_files(admin_api_client, data):
    assert image_files.CAMERA_MARKER.encode() in data

    body = post_image(admin_api_client, data).json()
    image = GalleryImage.objects.get(pk=body["id"])

    for name in (image.file_name, image.thumbnail_name):
        stored = stored_bytes(name)
        assert image_files.CAMERA_MARKER.encode() not in stored
        assert image_files.UPLOADER_MARKER.encode() not in stored
        reopened = Image.open(io.BytesIO(stored))
        exif = reopened.getexif()
        assert len(exif) == 0
        assert not exif.get_ifd(0x8825)  # GPSInfo
        assert "exif" not in reopened.info and "xmp" not in reopened.info


@pytest.mark.parametrize(
    "data",
    [
        image_files.jpeg_with_script_comment(),
        image_files.png_with_text_chunk_script(),
        image_files.gif_with_html_after_trailer(),
    ],
    ids=["jpeg-comment", "png-text", "gif-trailer"],
)
def test_markup_hidden_in_an_image_does_not_survive(admin_api_client, data):
    body = post_image(admin_api_client, data).json()
    image = GalleryImage.objects.get(pk=body["id"])

    for name in (image.file_name, image.thumbnail_name):
        assert b"<script" not in stored_bytes(name) and b"xss-marker" not in stored_bytes(name)


# --- upload: refused ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "content_type", "words"),
    [
        (image_files.png_decompression_bomb(), "bomb.png", "image/png", "too many pixels"),
        (image_files.png_header_only_bomb(), "bomb2.png", "image/png", "too many pixels"),
        (image_files.svg_with_script(), "logo.svg", "image/svg+xml", "not a JPEG, PNG, WebP or GIF"),
        (image_files.html_renamed_as_jpg(), "photo.jpg", "image/jpeg", "not a JPEG, PNG, WebP or GIF"),
        (image_files.truncated_jpeg(), "cut.jpg", "image/jpeg", "damaged or truncated"),
        (image_files.truncated_png(), "cut.png", "image/png", "damaged or truncated"),
        (image_files.text_bytes(), "notes.png", "image/png", "not a JPEG, PNG, WebP or GIF"),
        (image_files.pdf_bytes(), "doc.jpg", "image/jpeg", "not a JPEG, PNG, WebP or GIF"),
        (image_files.bmp_bytes(), "pic.bmp", "image/bmp", "not a JPEG, PNG, WebP or GIF"),
        (image_files.tiff_bytes(), "pic.tif", "image/tiff", "not a JPEG, PNG, WebP or GIF"),
        (image_files.png_zero_size(), "zero.png", "image/png", ""),
        (image_files.gif_many_frames(1001), "many.gif", "image/gif", "frames"),
    ],
    ids=[
        "png-bomb",
        "png-header-bomb",
        "svg-script",
        "html-as-jpg",
        "truncated-jpeg",
        "truncated-png",
        "text",
        "pdf",
        "bmp",
        "tiff",
        "zero-size",
        "too-many-frames",
    ],
)
def test_refused_upload_is_400_and_leaves_nothing(admin_api_client, snapshot, data, name, content_type, words):
    response = post_image(admin_api_client, data, name=name, content_type=content_type)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body) == {"detail", "code", "errors"}
    assert words in body["errors"]["image"][0]
    assert body["detail"] == body["errors"]["image"][0]
    assert snapshot()
    assert upload_audits(Outcome.FAILURE).count() == 1


def test_empty_file_is_refused(admin_api_client, snapshot):
    response = post_image(admin_api_client, b"")

    assert response.status_code == 400
    assert "image" in response.json()["errors"]
    assert snapshot()


def test_missing_image_is_refused(admin_api_client, snapshot):
    response = admin_api_client.post(GALLERY_URL, {"title": "no file"}, format="multipart")

    assert response.status_code == 400
    assert "image" in response.json()["errors"]
    assert snapshot()


@pytest.mark.parametrize(
    "fields",
    [{"title": "x" * 201}, {"alt_text": "y" * 501}, {"position": "-1"}, {"published": "perhaps"}],
    ids=["title", "alt-text", "position", "published"],
)
def test_invalid_metadata_is_refused(admin_api_client, snapshot, fields):
    response = post_image(admin_api_client, image_files.png_bytes(), **fields)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(fields)
    assert snapshot()


def test_file_over_image_max_bytes_is_413(admin_api_client, snapshot, settings):
    settings.IMAGE_MAX_BYTES = 2048
    response = post_image(admin_api_client, image_files.oversize_bytes(2049), name="big.jpg")

    assert response.status_code == 413
    assert response.json() == {"detail": "image is larger than 2 KiB", "code": "payload_too_large"}
    assert snapshot()


def test_body_far_over_the_limit_is_refused_before_it_is_parsed(admin_api_client, snapshot, settings, monkeypatch):
    settings.IMAGE_MAX_BYTES = 1000
    parsed = []
    from rest_framework.request import Request

    original = Request._load_data_and_files
    monkeypatch.setattr(Request, "_load_data_and_files", lambda self: parsed.append(1) or original(self))

    response = post_image(admin_api_client, image_files.oversize_bytes(200_000), name="big.jpg")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert parsed == []
    assert snapshot()


def test_pixel_limit_comes_from_settings(admin_api_client, snapshot, settings):
    settings.IMAGE_MAX_PIXELS = 100
    response = post_image(admin_api_client, image_files.png_bytes(20, 20))

    assert response.status_code == 400
    assert "too many pixels" in response.json()["errors"]["image"][0]
    assert snapshot()


# --- upload: web size ------------------------------------------------------------------


def stored_image(body, *, thumbnail=False):
    image = GalleryImage.objects.get(pk=body["id"])
    return Image.open(io.BytesIO(stored_bytes(image.thumbnail_name if thumbnail else image.file_name)))


def luma_difference(first, second):
    """Return the mean absolute difference of two images' luma, 0-255."""
    return ImageStat.Stat(ImageChops.difference(first.convert("L"), second.convert("L"))).mean[0]


def test_a_camera_sized_upload_is_stored_at_2560_by_default(admin_api_client, settings):
    assert settings.IMAGE_MAX_SIDE == 2560
    body = post_image(admin_api_client, image_files.photo_jpeg_bytes(3200, 2000), name="camera.jpg").json()

    assert (body["width"], body["height"]) == (2560, 1600)
    assert (body["original_width"], body["original_height"]) == (3200, 2000)
    assert stored_image(body).size == (2560, 1600)
    assert stored_image(body, thumbnail=True).size == (400, 250)
    assert body["size"] == len(stored_bytes(GalleryImage.objects.get().file_name))


@pytest.mark.parametrize(
    ("data", "stored", "original"),
    [
        (image_files.photo_jpeg_bytes(600, 400), (120, 80), (600, 400)),
        (image_files.png_bytes(600, 400), (120, 80), (600, 400)),
        (image_files.webp_bytes(600, 400), (120, 80), (600, 400)),
        (image_files.gif_bytes(600, 400, transparent=True), (120, 80), (600, 400)),
        (image_files.png_bytes(300, 600), (60, 120), (300, 600)),
        (image_files.jpeg_bytes(600, 300, orientation=6), (60, 120), (300, 600)),
        (image_files.png_bytes(100, 60), (100, 60), (100, 60)),
        (image_files.jpeg_bytes(120, 30), (120, 30), (120, 30)),
    ],
    ids=["large-jpeg", "large-png", "large-webp", "large-gif", "portrait", "portrait-by-exif", "small", "at-the-cap"],
)
def test_stored_size_fits_image_max_side(admin_api_client, settings, data, stored, original):
    settings.IMAGE_MAX_SIDE = 120

    response = post_image(admin_api_client, data)

    assert response.status_code == 201
    body = response.json()
    assert (body["width"], body["height"]) == stored
    assert (body["original_width"], body["original_height"]) == original
    assert stored_image(body).size == stored
    # The thumbnail fits 400x400 and is never larger than the stored image.
    assert stored_image(body, thumbnail=True).size == stored


def test_the_lists_show_stored_and_original_sizes(admin_api_client, api_client, settings):
    settings.IMAGE_MAX_SIDE = 120
    post_image(admin_api_client, image_files.png_bytes(600, 400))

    sizes = {"width": 120, "height": 80, "original_width": 600, "original_height": 400}
    admin_row = admin_api_client.get(GALLERY_URL).json()["results"][0]
    public_row = api_client.get(PUBLIC_URL).json()[0]
    for row in (admin_row, public_row):
        assert {key: row[key] for key in sizes} == sizes


def test_a_turned_portrait_is_stored_upright(admin_api_client, settings):
    settings.IMAGE_MAX_SIDE = 120
    # Red left half, blue right half, tagged "turn clockwise": upright, red is on top.
    body = post_image(admin_api_client, image_files.jpeg_bytes(600, 300, orientation=6), name="p.jpg").json()

    upright = stored_image(body).convert("RGB")
    assert upright.size == (60, 120)
    top, bottom = upright.getpixel((30, 20)), upright.getpixel((30, 100))
    assert top[0] > top[2] and bottom[2] > bottom[0]
    assert not upright.getexif()


def test_transparency_survives_the_downscale(admin_api_client, settings):
    settings.IMAGE_MAX_SIDE = 120
    body = post_image(admin_api_client, image_files.gif_bytes(600, 400, transparent=True), name="t.gif").json()

    image = stored_image(body).convert("RGBA")
    assert image.getpixel((2, 2))[3] == 0  # the transparent top-left quarter
    assert image.getpixel((100, 70))[3] == 255


@pytest.mark.parametrize(
    "data", [image_files.gif_bytes(600, 400, frames=3), image_files.webp_bytes(600, 400, frames=3)], ids=["gif", "webp"]
)
def test_animation_frames_are_downscaled_keeping_durations_and_loop(admin_api_client, settings, data):
    settings.IMAGE_MAX_SIDE = 120
    uploaded = Image.open(io.BytesIO(data))

    body = post_image(admin_api_client, data).json()

    assert (body["width"], body["height"]) == (120, 80)
    assert (body["original_width"], body["original_height"]) == (600, 400)
    for thumbnail in (False, True):
        image = stored_image(body, thumbnail=thumbnail)
        assert image.n_frames == uploaded.n_frames == 3
        assert image.info["loop"] == uploaded.info["loop"] == 0
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()  # WebP sets a frame's duration when it is read
            assert image.size == (120, 80)
            durations.append(image.info["duration"])
        assert durations == [80, 80, 80]


@pytest.mark.parametrize("max_side", [500, 400], ids=["draft-half-then-lanczos", "draft-quarter"])
def test_stored_jpeg_matches_a_reference_downscale(admin_api_client, settings, max_side):
    settings.IMAGE_MAX_SIDE = max_side
    data = image_files.photo_jpeg_bytes(1600, 1200)

    body = post_image(admin_api_client, data, name="photo.jpg").json()

    stored = stored_image(body)
    reference = Image.open(io.BytesIO(data)).resize(stored.size, Image.Resampling.LANCZOS)
    assert stored.size == (max_side, max_side * 3 // 4)
    # The stored JPEG (quality 85) differs from a full-size decode scaled with
    # Lanczos by about 1.5 levels; a nearest-neighbour scale gives about 2, a
    # 1/8 decode scaled up about 3.5, a one-pixel shift about 5.
    assert luma_difference(stored, reference) < 2.0


# --- upload: one decode at a time --------------------------------------------------------


@pytest.fixture
def slot_taken(settings):
    """Hold the process's only image decode slot, as an upload being decoded would."""
    settings.IMAGE_DECODE_SLOTS = 1
    settings.IMAGE_DECODE_WAIT = 0
    with slots.held(services.DECODE_SLOTS, 1, wait=0, busy=AssertionError("the slot was not free")):
        yield


def test_upload_past_the_decode_wait_is_503_image_busy_and_leaves_nothing(admin_api_client, slot_taken, snapshot):
    response = post_image(admin_api_client, image_files.png_bytes(), title="Queued")

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "image_busy"
    assert set(body) == {"detail", "code"}
    assert response["Retry-After"] == "1"
    assert snapshot()
    refusal = upload_audits(Outcome.FAILURE).get()
    assert refusal.actor == "alice" and "busy" in refusal.detail["reason"]
    assert not upload_audits(Outcome.SUCCESS).exists()


def test_the_refusal_comes_after_image_decode_wait_and_retry_after_follows_it(admin_api_client, slot_taken, settings):
    settings.IMAGE_DECODE_WAIT = 1.5
    started = time.monotonic()

    response = post_image(admin_api_client, image_files.png_bytes())

    assert time.monotonic() - started >= 1.5
    assert response.status_code == 503
    assert response["Retry-After"] == "2"


def test_an_upload_waits_for_the_slot_to_free_up(admin_api_client, settings):
    settings.IMAGE_DECODE_SLOTS = 1
    settings.IMAGE_DECODE_WAIT = 30
    taken, release = threading.Event(), threading.Event()

    def other_decode():
        with slots.held(services.DECODE_SLOTS, 1, wait=0, busy=AssertionError("the slot was not free")):
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=other_decode)
    holder.start()
    taken.wait(30)
    threading.Timer(0.3, release.set).start()
    try:
        response = post_image(admin_api_client, image_files.png_bytes())
    finally:
        release.set()
        holder.join(30)

    assert response.status_code == 201
    assert GalleryImage.objects.count() == 1


def test_each_decode_slot_serves_one_upload_at_a_time(admin_api_client, settings):
    settings.IMAGE_DECODE_SLOTS = 2
    settings.IMAGE_DECODE_WAIT = 0
    with slots.held(services.DECODE_SLOTS, 2, wait=0, busy=AssertionError("no slot")):
        assert post_image(admin_api_client, image_files.png_bytes()).status_code == 201
        with slots.held(services.DECODE_SLOTS, 2, wait=0, busy=AssertionError("no slot")):
            assert post_image(admin_api_client, image_files.png_bytes()).status_code == 503
    assert post_image(admin_api_client, image_files.png_bytes()).status_code == 201


# --- media serving ----------------------------------------------------------------------


@pytest.fixture
def stored(db):
    return GalleryImageFactory()


def test_media_404_for_missing_file(api_client, stored):
    assert api_client.get("/media/gallery/" + "0" * 32 + ".png").status_code == 404


@pytest.mark.parametrize("path", ["/media/", "/media/gallery", "/media/gallery/"])
def test_media_has_no_directory_listing(api_client, stored, path):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize(
    "path",
    [
        "/media/../adbot_admin/settings.py",
        "/media/gallery/../../secret.png",
        "/media/%2e%2e/secret.png",
        "/media//etc/passwd.png",
    ],
)
def test_media_refuses_path_traversal(api_client, stored, path, tmp_path):
    (tmp_path / "secret.png").write_bytes(image_files.png_bytes())

    response = api_client.get(path)

    assert response.status_code in (400, 404)
    assert not hasattr(response, "streaming_content")


def test_media_serves_only_images_and_no_hidden_files(api_client, stored):
    root = Path(settings.MEDIA_ROOT)
    (root / "gallery" / "page.html").write_bytes(image_files.HTML_MARKER)
    (root / "gallery" / ".incoming-x.part").write_bytes(image_files.png_bytes())
    (root / "gallery" / ".hidden.png").write_bytes(image_files.png_bytes())

    for name in ("gallery/page.html", "gallery/.incoming-x.part", "gallery/.hidden.png"):
        assert api_client.get(f"/media/{name}").status_code == 404


def test_media_does_not_follow_a_symlink_out_of_media_root(api_client, stored, tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(image_files.png_bytes())
    (Path(settings.MEDIA_ROOT) / "gallery" / "link.png").symlink_to(outside)

    assert api_client.get("/media/gallery/link.png").status_code == 404


def test_media_answers_head_and_refuses_writes(api_client, stored):
    url = f"/media/{stored.file_name}"

    assert api_client.head(url).status_code == 200
    assert api_client.post(url).status_code == 405


def _reload_urls():
    import adbot_admin.urls
    import cms.urls

    importlib.reload(cms.urls)
    importlib.reload(adbot_admin.urls)
    clear_url_caches()


@pytest.fixture
def media_not_served(settings):
    original = settings.SERVE_MEDIA
    settings.SERVE_MEDIA = False
    _reload_urls()
    yield
    settings.SERVE_MEDIA = original
    _reload_urls()


def test_media_route_is_not_mounted_when_serve_media_is_off(api_client, stored, media_not_served):
    response = api_client.get(f"/media/{stored.file_name}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- admin listing and detail ---------------------------------------------------------


def test_list_is_paginated_and_ordered_by_position_then_id(admin_api_client, make_images):
    third, first, second = make_images(1, position=5) + make_images(1, position=1) + make_images(1, position=5)

    response = admin_api_client.get(GALLERY_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [item["id"] for item in body["results"]] == [first.pk, third.pk, second.pk]
    assert set(body["results"][0]) == IMAGE_KEYS


def test_list_includes_unpublished_images(admin_api_client, make_images):
    make_images(1, published=False)

    assert admin_api_client.get(GALLERY_URL).json()["results"][0]["published"] is False


def test_list_page_size(admin_api_client, make_images):
    make_images(3)

    body = admin_api_client.get(GALLERY_URL + "?page_size=2").json()

    assert len(body["results"]) == 2 and body["next"]


def _queries(client, url):
    """Return (queries, rows) of one list request: every one reads the database afresh."""
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries), len(response.json()["results"])


def test_admin_list_query_count_does_not_grow_with_rows(admin_api_client, make_images):
    make_images(3)
    few = _queries(admin_api_client, GALLERY_URL)
    make_images(22)
    many = _queries(admin_api_client, GALLERY_URL)

    # The token check, the count and the page: the same three queries for 3 rows and for 25.
    assert few == (3, 3)
    assert many == (3, 25)


def test_retrieve(admin_api_client, stored):
    body = admin_api_client.get(f"{GALLERY_URL}/{stored.pk}").json()

    assert body["id"] == stored.pk and set(body) == IMAGE_KEYS


@pytest.mark.parametrize("suffix", ["", "/"])
def test_paths_work_with_and_without_trailing_slash(admin_api_client, stored, suffix):
    assert admin_api_client.get(GALLERY_URL + suffix).status_code == 200
    assert admin_api_client.get(f"{GALLERY_URL}/{stored.pk}{suffix}").status_code == 200
    assert admin_api_client.get(PUBLIC_URL + suffix).status_code == 200


def test_unknown_id_is_404(admin_api_client, db):
    response = admin_api_client.get(f"{GALLERY_URL}/999999")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_put_is_not_offered(admin_api_client, stored):
    assert admin_api_client.put(f"{GALLERY_URL}/{stored.pk}", {"title": "x"}, format="json").status_code == 405


# --- edit -------------------------------------------------------------------------------------


def test_patch_edits_the_editable_fields(admin_api_client, stored):
    changes = {"title": "New title", "alt_text": "New alt", "position": 9, "published": False}

    response = admin_api_client.patch(f"{GALLERY_URL}/{stored.pk}", changes, format="json")

    assert response.status_code == 200
    assert {key: response.json()[key] for key in changes} == changes
    stored.refresh_from_db()
    assert (stored.title, stored.alt_text, stored.position, stored.published) == ("New title", "New alt", 9, False)
    event = AuditEvent.objects.get(action="gallery_image.update")
    assert event.target == str(stored.pk) and event.detail == {"fields": sorted(changes)}


def test_patch_ignores_keys_that_are_not_editable(admin_api_client, stored):
    before = (stored.file_name, stored.width, stored.format, stored.size)

    response = admin_api_client.patch(
        f"{GALLERY_URL}/{stored.pk}",
        {"title": "ok", "url": "http://evil/x.png", "width": 1, "format": "gif", "size": 1, "file_name": "x"},
        format="json",
    )

    assert response.status_code == 200
    stored.refresh_from_db()
    assert (stored.file_name, stored.width, stored.format, stored.size) == before
    assert stored.title == "ok"


@pytest.mark.parametrize(
    "changes", [{"title": "x" * 201}, {"position": -1}, {"position": "first"}, {"published": "maybe"}]
)
def test_patch_refuses_invalid_values(admin_api_client, stored, changes):
    response = admin_api_client.patch(f"{GALLERY_URL}/{stored.pk}", changes, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(changes)


# --- reorder ------------------------------------------------------------------------------------


def test_reorder_sets_positions_in_one_go(admin_api_client, make_images):
    a, b, c = make_images(3)

    response = admin_api_client.post(f"{GALLERY_URL}/reorder", {"ids": [c.pk, a.pk, b.pk]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"ids": [c.pk, a.pk, b.pk]}
    listed = admin_api_client.get(GALLERY_URL).json()["results"]
    assert [(item["id"], item["position"]) for item in listed] == [(c.pk, 0), (a.pk, 1), (b.pk, 2)]
    assert AuditEvent.objects.filter(action="gallery_image.reorder").count() == 1


def test_reorder_keeps_unlisted_images_after_the_listed_ones(admin_api_client, make_images):
    a, b, c = make_images(3)

    response = admin_api_client.post(f"{GALLERY_URL}/reorder/", {"ids": [c.pk]}, format="json")

    assert response.json() == {"ids": [c.pk, a.pk, b.pk]}


@pytest.mark.parametrize("ids", [[], "nope", [1, 1]], ids=["empty", "not-a-list", "repeated"])
def test_reorder_refuses_bad_lists(admin_api_client, make_images, ids):
    make_images(1)

    response = admin_api_client.post(f"{GALLERY_URL}/reorder", {"ids": ids}, format="json")

    assert response.status_code == 400
    assert "ids" in response.json()["errors"]


def test_reorder_refuses_unknown_ids_and_changes_nothing(admin_api_client, make_images):
    a, b = make_images(2)

    response = admin_api_client.post(f"{GALLERY_URL}/reorder", {"ids": [b.pk, a.pk + b.pk + 1000]}, format="json")

    assert response.status_code == 400
    assert "Unknown image ids" in response.json()["errors"]["ids"][0]
    assert list(GalleryImage.objects.values_list("id", flat=True)) == [a.pk, b.pk]


# --- delete --------------------------------------------------------------------------------------


def test_delete_removes_row_and_files(admin_api_client, stored, django_capture_on_commit_callbacks):
    other = GalleryImageFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api_client.delete(f"{GALLERY_URL}/{stored.pk}")

    assert response.status_code == 204
    assert not GalleryImage.objects.filter(pk=stored.pk).exists()
    assert media_files() == {other.file_name, other.thumbnail_name}
    assert AuditEvent.objects.filter(action="gallery_image.delete", target=str(stored.pk)).exists()
    assert admin_api_client.get(f"/media/{stored.file_name}").status_code == 404


def test_delete_unknown_is_404(admin_api_client, db):
    assert admin_api_client.delete(f"{GALLERY_URL}/424242").status_code == 404


# --- auth matrix -----------------------------------------------------------------------------


def _endpoints(pk):
    return [
        ("get", GALLERY_URL, None),
        ("post", GALLERY_URL, {"image": image_files.png_bytes()}),
        ("get", f"{GALLERY_URL}/{pk}", None),
        ("patch", f"{GALLERY_URL}/{pk}", {"title": "x"}),
        ("delete", f"{GALLERY_URL}/{pk}", None),
        ("post", f"{GALLERY_URL}/reorder", {"ids": [pk]}),
    ]


def _call(client, method, url, data):
    if data and "image" in data:
        return client.post(url, {"image": SimpleUploadedFile("a.png", data["image"])}, format="multipart")
    return getattr(client, method)(url, data, format="json") if data else getattr(client, method)(url)


def _expired_token(user):
    token = AccessToken.for_user(user)
    token["role"] = user.role
    token.set_exp(lifetime=timedelta(seconds=-5))
    return str(token)


@pytest.mark.parametrize("index", range(6), ids=["list", "create", "retrieve", "patch", "delete", "reorder"])
@pytest.mark.parametrize("credentials", ["none", "wrong-scheme", "garbage", "expired", "user-role"])
def test_auth_matrix(api_client, admin_user, plain_user, stored, snapshot, index, credentials):
    method, url, data = _endpoints(stored.pk)[index]
    headers = {
        "none": {},
        "wrong-scheme": {"HTTP_AUTHORIZATION": f"Basic {_expired_token(admin_user)}"},
        "garbage": {"HTTP_AUTHORIZATION": "Bearer not.a.token"},
        "expired": {"HTTP_AUTHORIZATION": f"Bearer {_expired_token(admin_user)}"},
        "user-role": {"HTTP_AUTHORIZATION": f"Bearer {_user_token(plain_user)}"},
    }[credentials]
    api_client.credentials(**headers)

    response = _call(api_client, method, url, data)

    expected = 403 if credentials == "user-role" else 401
    assert response.status_code == expected, response.content
    assert set(response.json()) == {"detail", "code"}
    assert snapshot()
    assert GalleryImage.objects.get(pk=stored.pk).title == stored.title


def _user_token(user):
    token = AccessToken.for_user(user)
    token["role"] = user.role
    return str(token)


# --- rate limits ---------------------------------------------------------------------------------


def test_upload_past_the_budget_is_429(admin_api_client, settings):
    settings.RATELIMIT_UPLOAD = "2/h"

    codes = [post_image(admin_api_client, image_files.png_bytes()).status_code for _ in range(2)]
    refused = post_image(admin_api_client, image_files.png_bytes())

    assert codes == [201, 201]
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert refused["RateLimit-Policy"] == '"upload";q=2;w=3600'
    assert GalleryImage.objects.count() == 2 and len(media_files()) == 4
    assert AuditEvent.objects.filter(action="rate_limited", target="upload").count() == 1


def test_refused_uploads_spend_the_budget_too(admin_api_client, settings):
    settings.RATELIMIT_UPLOAD = "1/h"

    assert post_image(admin_api_client, image_files.text_bytes()).status_code == 400
    assert post_image(admin_api_client, image_files.png_bytes()).status_code == 429


def test_delete_past_the_budget_is_429(admin_api_client, make_images, settings):
    settings.RATELIMIT_DELETE = "1/h"
    a, b = make_images(2)

    assert admin_api_client.delete(f"{GALLERY_URL}/{a.pk}").status_code == 204
    refused = admin_api_client.delete(f"{GALLERY_URL}/{b.pk}")

    assert refused.status_code == 429 and "Retry-After" in refused
    assert GalleryImage.objects.filter(pk=b.pk).exists()


def test_edits_and_listing_spend_no_budget(admin_api_client, stored, settings):
    settings.RATELIMIT_UPLOAD = "1/h"
    settings.RATELIMIT_DELETE = "1/h"

    for _ in range(3):
        assert admin_api_client.get(GALLERY_URL).status_code == 200
        assert admin_api_client.patch(f"{GALLERY_URL}/{stored.pk}", {"title": "t"}, format="json").status_code == 200
    assert post_image(admin_api_client, image_files.png_bytes()).status_code == 201


# --- public gallery -----------------------------------------------------------------------------


def test_public_gallery_lists_published_images_in_order(api_client, make_images):
    late = GalleryImageFactory(position=10, title="late")
    hidden = GalleryImageFactory(position=0, published=False)
    early = GalleryImageFactory(position=1, title="early")

    response = api_client.get(PUBLIC_URL)

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body] == [early.pk, late.pk]
    assert hidden.pk not in [item["id"] for item in body]
    assert set(body[0]) == PUBLIC_KEYS
    assert body[0]["url"] == f"http://testserver/media/{early.file_name}"
    assert body[0]["thumbnail_url"] == f"http://testserver/media/{early.thumbnail_name}"
    assert response["ETag"] and response["Last-Modified"]
    assert "no-cache" in response["Cache-Control"] and "public" in response["Cache-Control"]


def test_public_gallery_ignores_credentials(api_client, stored):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    assert api_client.get(PUBLIC_URL).status_code == 200


def test_public_gallery_answers_a_database_failure_in_the_error_format(api_client, db, monkeypatch):
    def unavailable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "gallery_revision", unavailable)
    response = api_client.get(PUBLIC_URL)

    assert response.status_code == 503
    assert response.json() == {
        "detail": "The database is unavailable; try again shortly.",
        "code": "database_unavailable",
    }


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"HTTP_ACCEPT": "application/json"}, 200),
        ({"HTTP_ACCEPT": "text/html;q=0.9, */*;q=0.8"}, 200),
        ({"HTTP_ACCEPT": "text/html"}, 406),
        ({"QUERY_STRING": "format=xml"}, 404),
    ],
)
def test_public_gallery_negotiates_as_every_api_view(api_client, db, headers, status):
    response = api_client.get(PUBLIC_URL, **headers)

    assert response.status_code == status
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response["Content-Type"] == "application/json"


def test_public_gallery_is_empty_list_at_first(api_client, db):
    response = api_client.get(PUBLIC_URL)

    assert response.status_code == 200 and response.json() == []


def test_public_gallery_is_capped(api_client, make_images, monkeypatch):
    monkeypatch.setattr(views, "PUBLIC_GALLERY_LIMIT", 2)
    make_images(3)

    assert len(api_client.get(PUBLIC_URL).json()) == 2


def test_public_revalidation_answers_304_without_building_the_list(api_client, make_images, django_assert_num_queries):
    make_images(3)
    etag = api_client.get(PUBLIC_URL)["ETag"]

    # One read of the revision row, never the images; with or without a cache.
    for _ in range(2):
        with django_assert_num_queries(1) as context:
            response = api_client.get(PUBLIC_URL, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == etag
        assert "cms_galleryimage" not in context.captured_queries[0]["sql"]
        cache.clear()


def test_a_change_through_another_process_shows_on_the_next_request(api_client, make_images):
    make_images(2)
    etag = api_client.get(PUBLIC_URL)["ETag"]

    # What another process's write leaves behind: a newer revision row (the listing of the old one stays cached).
    GalleryRevision.objects.filter(pk=services.REVISION_PK).update(number=F("number") + 1, changed_at=timezone.now())

    fresh = api_client.get(PUBLIC_URL, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert fresh["ETag"] != etag


def test_public_if_modified_since_answers_304(api_client, stored):
    last_modified = api_client.get(PUBLIC_URL)["Last-Modified"]

    assert api_client.get(PUBLIC_URL, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304


@pytest.mark.parametrize("validator", ["ETag", "Last-Modified"])
@pytest.mark.parametrize("method", ["get", "head"])
def test_a_304_carries_the_cache_control_of_the_200(api_client, stored, validator, method):
    listing = api_client.get(PUBLIC_URL)
    condition = {"ETag": "HTTP_IF_NONE_MATCH", "Last-Modified": "HTTP_IF_MODIFIED_SINCE"}[validator]

    revalidation = getattr(api_client, method)(PUBLIC_URL, **{condition: listing[validator]})

    assert revalidation.status_code == 304
    assert revalidation["Cache-Control"] == listing["Cache-Control"] == "public, no-cache"
    assert revalidation["ETag"] == listing["ETag"]


@pytest.mark.parametrize(
    "precondition",
    [{"HTTP_IF_MATCH": '"g0-000000000000"'}, {"HTTP_IF_UNMODIFIED_SINCE": "Mon, 01 Jan 2001 00:00:00 GMT"}],
)
def test_a_failed_precondition_is_an_error_in_the_api_format(api_client, stored, precondition):
    response = api_client.get(PUBLIC_URL, **precondition)

    assert response.status_code == 412
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The resource no longer matches the request's If-Match or If-Unmodified-Since.",
        "code": "precondition_failed",
    }
    assert "Cache-Control" not in response


def test_a_met_precondition_answers_the_listing(api_client, stored):
    listing = api_client.get(PUBLIC_URL)

    response = api_client.get(PUBLIC_URL, HTTP_IF_MATCH=listing["ETag"])

    assert response.status_code == 200
    assert response.content == listing.content


@pytest.mark.parametrize(
    "change",
    ["upload", "patch", "unpublish", "reorder", "delete"],
)
def test_every_write_changes_the_etag(
    api_client, admin_api_client, make_images, change, django_capture_on_commit_callbacks
):
    a, b = make_images(2)
    etag = api_client.get(PUBLIC_URL)["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        if change == "upload":
            post_image(admin_api_client, image_files.png_bytes())
        elif change == "patch":
            admin_api_client.patch(f"{GALLERY_URL}/{a.pk}", {"alt_text": "changed"}, format="json")
        elif change == "unpublish":
            admin_api_client.patch(f"{GALLERY_URL}/{a.pk}", {"published": False}, format="json")
        elif change == "reorder":
            admin_api_client.post(f"{GALLERY_URL}/reorder", {"ids": [b.pk, a.pk]}, format="json")
        else:
            admin_api_client.delete(f"{GALLERY_URL}/{b.pk}")

    response = api_client.get(PUBLIC_URL, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def _cold_queries(client, url):
    cache.clear()
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_public_list_is_two_queries_whatever_the_row_count(api_client, make_images):
    make_images(3)
    few = _cold_queries(api_client, PUBLIC_URL)
    make_images(27)
    many = _cold_queries(api_client, PUBLIC_URL)

    assert len(api_client.get(PUBLIC_URL).json()) == 30
    assert few == many == 2


def test_a_repeated_public_list_reads_only_the_revision_until_the_gallery_changes(
    api_client, admin_api_client, make_images
):
    (image,) = make_images(1)
    first = api_client.get(PUBLIC_URL)
    with CaptureQueriesContext(connection) as context:
        again = api_client.get(PUBLIC_URL)
    assert len(context.captured_queries) == 1  # the revision row; the listing comes from the cache
    assert "cms_galleryimage" not in context.captured_queries[0]["sql"]
    assert again.content == first.content

    response = admin_api_client.patch(f"/api/cms/gallery-images/{image.pk}", {"title": "Renamed"}, format="json")
    assert response.status_code == 200
    changed = api_client.get(PUBLIC_URL)
    assert changed["ETag"] != first["ETag"]
    assert changed.json()[0]["title"] == "Renamed"


def test_the_cache_holds_one_listing_whatever_the_host(api_client, make_images, settings):
    make_images(2)
    settings.ALLOWED_HOSTS = [".example.com"]
    bodies = {}
    for n in range(20):
        host = f"h{n}.example.com:{8000 + n}"
        response = api_client.get(PUBLIC_URL, HTTP_HOST=host)
        assert response.status_code == 200
        bodies[host] = response.json()
    # Each answer carries its own origin...
    for host, body in bodies.items():
        assert body[0]["url"].startswith(f"http://{host}/media/gallery/")
    # ...yet the cache keeps one body for the revision, not one per host.
    assert len(cached_keys("public-gallery")) == 1


def cached_keys(fragment):
    """Return the keys in the default cache that contain `fragment` (local memory or Redis)."""
    store = cache._cache
    if hasattr(store, "get_client"):
        keys = [key.decode() for key in store.get_client().keys(f"*{fragment}*")]
    else:
        keys = [key for key in store if fragment in key]
    return sorted(keys)


def test_public_base_url_builds_every_absolute_url(api_client, admin_api_client, make_images, settings):
    (image,) = make_images(1)
    settings.PUBLIC_BASE_URL = "https://gallery.example.com"

    public = api_client.get(PUBLIC_URL).json()
    admin = admin_api_client.get(GALLERY_URL).json()["results"]

    assert public[0]["url"] == f"https://gallery.example.com/media/{image.file_name}"
    assert admin[0]["thumbnail_url"] == f"https://gallery.example.com/media/{image.thumbnail_name}"


def test_an_overlong_host_is_400_like_a_disallowed_one(api_client, db):
    response = api_client.get(PUBLIC_URL, HTTP_HOST="localhost:" + "1" * 300)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    # A long bearer token still gets through: the limit is on Host alone.
    api_client.credentials(HTTP_AUTHORIZATION="Bearer " + "a" * 16_000)
    assert api_client.get("/api/auth/me").status_code == 401


# --- OpenAPI ------------------------------------------------------------------------------------


def test_schema_documents_every_status_and_the_multipart_body(api_client, db):
    schema = api_client.get("/api/schema?format=json").json()
    # drf-spectacular writes the optional trailing slash as a slash.
    paths = {path.rstrip("/"): operations for path, operations in schema["paths"].items()}
    collection = paths["/api/cms/gallery-images"]
    item = paths["/api/cms/gallery-images/{id}"]

    create = collection["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert {"201", "400", "401", "403", "413", "429"} <= set(create["responses"])
    assert {"200", "401", "403"} <= set(collection["get"]["responses"])
    assert {"200", "401", "403", "404"} <= set(item["get"]["responses"])
    assert {"200", "400", "401", "403", "404"} <= set(item["patch"]["responses"])
    assert {"204", "401", "403", "404", "429"} <= set(item["delete"]["responses"])
    assert "put" not in item
    assert {"200", "400", "401", "403"} <= set(paths["/api/cms/gallery-images/reorder"]["post"]["responses"])
    assert {"200", "304"} <= set(paths["/api/public/gallery"]["get"]["responses"])
    assert paths["/api/public/gallery"]["get"].get("security") in (None, [], [{}])


# --- the CMS page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cms", "/cms/"])
def test_cms_page_is_served_with_a_strict_csp(client, path):
    response = client.get(path)

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = response.content.decode()
    assert '<script src="/static/cms/cms.js" defer></script>' in html
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html


@pytest.mark.parametrize("name", ["cms/cms.js", "cms/cms.css"])
def test_cms_static_files_are_served(client, name):
    response = client.get(f"/static/{name}")

    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    # Tokens live in a script variable and an httpOnly cookie, never in web storage.
    assert b"localStorage" not in content and b"sessionStorage" not in content
