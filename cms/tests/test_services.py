"""The gallery services: rows and files appear and disappear together, whatever fails."""

import os
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command

from adbot_admin.file_storage import AtomicFileSystemStorage
from adbot_admin.models import AuditEvent, AuthMethod, Outcome
from cms import services
from cms.images import ImageRejected
from cms.models import GalleryImage, GalleryRevision

from . import image_files
from .conftest import media_files
from .factories import GalleryImageFactory, upload

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


# --- create -------------------------------------------------------------------------------


def test_create_stores_row_files_revision_and_audit(django_capture_on_commit_callbacks):
    before = services.gallery_revision()[0]

    with django_capture_on_commit_callbacks(execute=True):
        image = services.gallery_image_create(upload=upload(), title="t", alt_text="a")

    assert media_files() == {image.file_name, image.thumbnail_name}
    assert services.gallery_revision()[0] == before + 1
    event = AuditEvent.objects.get(action="gallery_image.upload")
    assert event.target == str(image.pk) and event.auth_method == AuthMethod.SHELL
    assert event.detail == {"file": image.file_name, "format": "png", "size": image.size}


def test_storage_failing_between_the_two_files_leaves_nothing(monkeypatch, snapshot):
    real = AtomicFileSystemStorage.save_exact
    calls = []

    def second_write_fails(self, name, content, *, overwrite):
        calls.append(name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, name, content, overwrite=overwrite)

    monkeypatch.setattr(AtomicFileSystemStorage, "save_exact", second_write_fails)

    with pytest.raises(OSError):
        services.gallery_image_create(upload=upload())

    assert len(calls) == 2
    assert snapshot()
    assert not any(path.name.startswith(".incoming-") for path in Path(settings.MEDIA_ROOT).rglob("*"))


@pytest.mark.parametrize("failing", ["row", "revision", "audit"])
def test_failure_after_the_files_are_written_leaves_nothing(monkeypatch, snapshot, failing):
    if failing == "row":
        monkeypatch.setattr(GalleryImage, "save", lambda self, *a, **k: (_ for _ in ()).throw(Boom()))
    elif failing == "revision":
        monkeypatch.setattr(services, "_bump_revision", lambda: (_ for _ in ()).throw(Boom()))
    else:

        def record(**kwargs):
            if kwargs.get("outcome", Outcome.SUCCESS) == Outcome.SUCCESS:
                raise Boom()

        monkeypatch.setattr(services, "record", record)
    revision = services.gallery_revision()

    with pytest.raises(Boom):
        services.gallery_image_create(upload=upload())

    assert snapshot()
    assert services.gallery_revision() == revision


def test_refusal_is_audited_and_stores_nothing(snapshot):
    with pytest.raises(ImageRejected, match="not a JPEG"):
        services.gallery_image_create(upload=upload(image_files.svg_with_script(), name="x.svg"))

    assert snapshot()
    event = AuditEvent.objects.get(action="gallery_image.upload")
    assert event.outcome == Outcome.FAILURE and "not a JPEG" in event.detail["reason"]


def test_oversize_is_told_apart_from_other_refusals(settings, snapshot):
    settings.IMAGE_MAX_BYTES = 1024

    with pytest.raises(services.ImageTooLarge, match="larger than 1 KiB"):
        services.gallery_image_create(upload=upload(image_files.oversize_bytes(1025)))

    assert snapshot()


def test_oversize_is_caught_even_when_the_size_attribute_lies(settings):
    settings.IMAGE_MAX_BYTES = 1024
    liar = upload(image_files.oversize_bytes(5000))
    liar.size = 10

    with pytest.raises(services.ImageTooLarge):
        services.gallery_image_check(upload=liar)


def test_invalid_metadata_is_refused_before_the_image_is_read(monkeypatch, snapshot):
    monkeypatch.setattr(services, "process_image", lambda *a, **k: pytest.fail("image processed"))

    with pytest.raises(ValidationError) as info:
        services.gallery_image_create(upload=upload(), title="x" * 201)

    assert "title" in info.value.message_dict
    assert snapshot()


def test_a_checked_upload_is_not_processed_twice(monkeypatch):
    processed = services.gallery_image_check(upload=upload())
    monkeypatch.setattr(services, "process_image", lambda *a, **k: pytest.fail("processed again"))

    image = services.gallery_image_create(upload=None, processed=processed)

    assert image.format == "png"


def test_position_defaults_to_after_the_last():
    first = services.gallery_image_create(upload=upload(), position=4)
    second = services.gallery_image_create(upload=upload())
    third = services.gallery_image_create(upload=upload(), position=0)

    assert (first.position, second.position, third.position) == (4, 5, 0)


# --- update ----------------------------------------------------------------------------------


def test_update_saves_the_given_fields_and_bumps_the_revision(django_capture_on_commit_callbacks):
    image = GalleryImageFactory()
    revision = services.gallery_revision()[0]

    with django_capture_on_commit_callbacks(execute=True):
        services.gallery_image_update(image=image, data={"title": "New", "published": False})

    image.refresh_from_db()
    assert (image.title, image.published) == ("New", False)
    assert services.gallery_revision()[0] == revision + 1


def test_update_with_nothing_does_nothing():
    image = GalleryImageFactory()
    revision = services.gallery_revision()

    services.gallery_image_update(image=image, data={})

    assert services.gallery_revision() == revision
    assert not AuditEvent.objects.filter(action="gallery_image.update").exists()


def test_update_refuses_fields_that_are_not_editable():
    image = GalleryImageFactory()

    with pytest.raises(ValueError, match="file_name"):
        services.gallery_image_update(image=image, data={"file_name": "gallery/other.png"})


def test_update_refuses_invalid_values_and_keeps_the_row():
    image = GalleryImageFactory(title="kept")

    with pytest.raises(ValidationError):
        services.gallery_image_update(image=image, data={"title": "x" * 201})

    assert GalleryImage.objects.get(pk=image.pk).title == "kept"


# --- reorder ----------------------------------------------------------------------------------


def test_reorder_renumbers_everything_from_zero():
    a, b, c = GalleryImageFactory(position=3), GalleryImageFactory(position=8), GalleryImageFactory(position=9)

    order = services.gallery_images_reorder(ids=[b.pk])

    assert order == [b.pk, a.pk, c.pk]
    assert list(GalleryImage.objects.values_list("id", "position")) == [(b.pk, 0), (a.pk, 1), (c.pk, 2)]


def test_reorder_that_changes_nothing_records_nothing():
    a, b = GalleryImageFactory(), GalleryImageFactory()
    services.gallery_images_reorder(ids=[a.pk, b.pk])
    revision = services.gallery_revision()
    events = AuditEvent.objects.count()

    services.gallery_images_reorder(ids=[a.pk, b.pk])

    assert services.gallery_revision() == revision
    assert AuditEvent.objects.count() == events


def test_reorder_marks_moved_rows_as_updated():
    a, b = GalleryImageFactory(), GalleryImageFactory()
    stamp = GalleryImage.objects.get(pk=a.pk).updated_at

    services.gallery_images_reorder(ids=[b.pk, a.pk])

    assert GalleryImage.objects.get(pk=a.pk).updated_at > stamp


# --- delete ------------------------------------------------------------------------------------


def test_delete_removes_the_row_now_and_the_files_after_commit(django_capture_on_commit_callbacks):
    image = GalleryImageFactory()
    files = {image.file_name, image.thumbnail_name}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.gallery_image_delete(image=image)
        # Inside the transaction: the row is gone, the files are still there.
        assert not GalleryImage.objects.filter(pk=image.pk).exists()
        assert media_files() == files

    assert callbacks  # among them: publish the new revision, remove the files
    for callback in callbacks:
        callback()
    assert media_files() == set()
    assert AuditEvent.objects.filter(action="gallery_image.delete", target=str(image.pk)).exists()


@pytest.mark.parametrize("failing", ["revision", "audit"])
def test_failed_delete_keeps_row_and_files(monkeypatch, django_capture_on_commit_callbacks, failing):
    image = GalleryImageFactory()
    files = media_files()
    if failing == "revision":
        monkeypatch.setattr(services, "_bump_revision", lambda: (_ for _ in ()).throw(Boom()))
    else:
        monkeypatch.setattr(services, "record", lambda **kwargs: (_ for _ in ()).throw(Boom()))

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom):
        services.gallery_image_delete(image=image)

    assert callbacks == []
    assert GalleryImage.objects.filter(pk=image.pk).exists()
    assert media_files() == files


def test_file_removal_failing_after_commit_is_logged_not_raised(
    monkeypatch, django_capture_on_commit_callbacks, caplog
):
    image = GalleryImageFactory()
    monkeypatch.setattr(AtomicFileSystemStorage, "delete", lambda self, name: (_ for _ in ()).throw(OSError("EIO")))

    with django_capture_on_commit_callbacks(execute=True):
        services.gallery_image_delete(image=image)

    assert not GalleryImage.objects.filter(pk=image.pk).exists()
    assert "could not delete gallery file" in caplog.text


def test_deleting_twice_does_nothing_the_second_time(django_capture_on_commit_callbacks):
    image = GalleryImageFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.gallery_image_delete(image=image)
    revision = services.gallery_revision()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.gallery_image_delete(image=image)

    assert callbacks == []
    assert services.gallery_revision() == revision
    assert AuditEvent.objects.filter(action="gallery_image.delete").count() == 1


def test_bulk_delete(django_capture_on_commit_callbacks):
    images = [GalleryImageFactory() for _ in range(3)]
    keep = GalleryImageFactory()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.gallery_images_delete(images=images) == 3

    assert list(GalleryImage.objects.all()) == [keep]
    assert media_files() == {keep.file_name, keep.thumbnail_name}


# --- revision ------------------------------------------------------------------------------------


def test_revision_survives_a_lost_row(django_capture_on_commit_callbacks):
    GalleryRevision.objects.all().delete()
    assert services.gallery_revision() == (0, None)

    with django_capture_on_commit_callbacks(execute=True):
        GalleryImageFactory()

    number, changed_at = services.gallery_revision()
    assert number == 1 and changed_at is not None


# --- orphans --------------------------------------------------------------------------------------


def _age(name, minutes):
    path = Path(settings.MEDIA_ROOT) / name
    past = time.time() - minutes * 60
    os.utime(path, (past, past))


def test_prune_removes_old_unnamed_files_only():
    image = GalleryImageFactory()
    root = Path(settings.MEDIA_ROOT) / "gallery"
    for name in ("old-orphan.png", "new-orphan.png", ".incoming-abc.part"):
        (root / name).write_bytes(b"x")
    _age("gallery/old-orphan.png", 120)
    _age("gallery/.incoming-abc.part", 120)
    _age(image.file_name, 120)
    out = StringIO()

    call_command("prune_gallery_files", "--older-than", "60", stdout=out)

    assert media_files() == {image.file_name, image.thumbnail_name, "gallery/new-orphan.png"}
    assert "2 orphan file(s) removed." in out.getvalue()


def test_prune_with_no_gallery_folder():
    assert services.gallery_orphans_delete(older_than=timedelta(minutes=1)) == []


def test_migrations_are_complete():
    call_command("makemigrations", "cms", "--check", "--dry-run", stdout=StringIO())
