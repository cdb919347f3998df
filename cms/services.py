"""Gallery flows shared by the API and the admin site: upload, edit, reorder, delete.

Row and files appear and disappear together:
- Upload writes both files, then the row, the revision bump and the audit event
  in one transaction; if anything fails the files it wrote are removed before
  the error propagates. The files carry fresh random names, so nobody can reach
  them before the row commits.
- Delete removes the row (with the revision bump and the audit event) in a
  transaction and removes the files only once it has committed
  (`transaction.on_commit`): a row never points at a missing file. A crash
  between commit and file removal, or a rollback of an outer transaction after
  an upload, can leave files no row names; `gallery_orphans_delete` (the
  `prune_gallery_files` command) removes those.
"""

import logging
import math
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache, partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from adbot_admin import slots, statements
from adbot_admin.audit import record
from adbot_admin.field_edits import fields_assign
from adbot_admin.file_storage import media_storage, save_exact
from adbot_admin.models import Outcome
from adbot_admin.sizes import describe_bytes

from .images import ImageRejected, ImageTooLarge, ProcessedImage, process_image
from .models import GalleryImage, GalleryRevision

logger = logging.getLogger(__name__)

GALLERY_DIR = "gallery"
THUMBNAIL_SIZE = (400, 400)
DECODE_SLOTS = "image-decode"
EDITABLE_FIELDS = ("title", "alt_text", "position", "published")
REVISION_PK = 1


class DecodeBusy(Exception):
    """Raised when no image decode slot frees up within IMAGE_DECODE_WAIT (the API answers 503)."""

    def __init__(self, message, *, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


def gallery_image_check(*, upload) -> ProcessedImage:
    """Return `upload` validated and re-encoded at web size (IMAGE_MAX_SIDE), with its thumbnail.

    Decodes run in one of this process's IMAGE_DECODE_SLOTS. Raises
    ImageTooLarge past IMAGE_MAX_BYTES (judged by the bytes received, before
    any decoding), DecodeBusy when no slot frees up within IMAGE_DECODE_WAIT
    seconds, and ImageRejected for anything process_image refuses.
    """
    max_bytes = settings.IMAGE_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise ImageTooLarge(f"image is larger than {describe_bytes(max_bytes)}")
    wait = settings.IMAGE_DECODE_WAIT
    # A wait that found no slot says the queue is at least that long.
    busy = DecodeBusy(f"every image decode slot stayed busy for {wait:g} s", retry_after=max(1, math.ceil(wait)))
    with slots.held(DECODE_SLOTS, settings.IMAGE_DECODE_SLOTS, wait=wait, busy=busy):
        return process_image(
            upload,
            max_bytes=max_bytes,
            max_pixels=settings.IMAGE_MAX_PIXELS,
            max_side=settings.IMAGE_MAX_SIDE,
            thumbnail_size=THUMBNAIL_SIZE,
        )


def gallery_image_create(
    *, upload, title="", alt_text="", position=None, published=True, processed=None, request=None
) -> GalleryImage:
    """Store `upload` as a new gallery image and return it.

    `processed` is the result of gallery_image_check when the caller (the
    admin form) has already checked the upload. `position` None puts the image
    last. Raises ImageRejected (ImageTooLarge) for a refused upload and Django's
    ValidationError for invalid metadata, DecodeBusy when no decode slot frees
    up in time; either way nothing is stored, and the refusal is audited.
    """
    image = GalleryImage(title=title, alt_text=alt_text, position=position or 0, published=published)
    try:
        # The fields the server derives from the file are set below.
        image.clean_fields(exclude=[field.name for field in GalleryImage._meta.fields if not field.editable])
        if processed is None:
            processed = gallery_image_check(upload=upload)
    except (ImageRejected, DecodeBusy, ValidationError) as exc:
        record(
            request=request,
            action="gallery_image.upload",
            outcome=Outcome.FAILURE,
            detail={"reason": str(exc.messages if isinstance(exc, ValidationError) else exc)[:500]},
        )
        raise

    stem = uuid.uuid4().hex
    image.file_name = f"{GALLERY_DIR}/{stem}.{processed.extension}"
    image.thumbnail_name = f"{GALLERY_DIR}/{stem}-thumb.{processed.extension}"
    image.width, image.height = processed.width, processed.height
    image.original_width, image.original_height = processed.original_width, processed.original_height
    image.format = processed.format
    image.size = len(processed.content)

    storage = media_storage()
    written = []
    try:
        with transaction.atomic():
            for name, content in ((image.file_name, processed.content), (image.thumbnail_name, processed.thumbnail)):
                save_exact(storage, name, ContentFile(content), overwrite=False)
                written.append(name)
            if position is None:
                top = GalleryImage.objects.aggregate(top=Max("position"))["top"]
                image.position = 0 if top is None else top + 1
            image.save()
            _bump_revision()
            record(
                request=request,
                action="gallery_image.upload",
                target=image.pk,
                detail={"file": image.file_name, "format": image.format, "size": image.size},
            )
    except BaseException:
        _delete_files(written, storage=storage)
        raise
    return image


def gallery_image_update(*, image, data, request=None) -> GalleryImage:
    """Set the editable fields in `data` (title, alt_text, position, published) on `image` and return it.

    Other keys raise ValueError (a programming error: callers pass validated
    data). Invalid values raise Django's ValidationError. An empty `data`
    changes nothing and records nothing.
    """
    if not fields_assign(image, data, editable=EDITABLE_FIELDS):
        return image
    with transaction.atomic():
        image.save(update_fields=[*data, "updated_at"])
        _bump_revision()
        record(request=request, action="gallery_image.update", target=image.pk, detail={"fields": sorted(data)})
    return image


def gallery_images_reorder(*, ids, request=None) -> list[int]:
    """Put the images `ids` first, in that order, the others after them as they were; return every id in order.

    Positions become 0, 1, 2, ... in one transaction. Raises Django's
    ValidationError for a repeated or unknown id.
    """
    if len(set(ids)) != len(ids):
        raise ValidationError({"ids": ["Each id may appear only once."]})
    with transaction.atomic():
        # Locks the rows (on databases that can) so two reorders apply one after the other.
        current = list(
            GalleryImage.objects.select_for_update().order_by("position", "id").values_list("id", "position")
        )
        known = {pk for pk, _ in current}
        missing = [pk for pk in ids if pk not in known]
        if missing:
            raise ValidationError({"ids": [f"Unknown image ids: {', '.join(map(str, missing))}."]})
        listed = set(ids)
        order = [*ids, *(pk for pk, _ in current if pk not in listed)]
        old = dict(current)
        now = timezone.now()
        changed = [
            GalleryImage(pk=pk, position=index, updated_at=now) for index, pk in enumerate(order) if old[pk] != index
        ]
        if changed:
            GalleryImage.objects.bulk_update(changed, ["position", "updated_at"], batch_size=500)
            _bump_revision()
            record(request=request, action="gallery_image.reorder", detail={"ids": order[:200]})
    return order


def gallery_image_delete(*, image, request=None) -> None:
    """Delete `image`: the row now, its files once the transaction has committed.

    Deleting an image that is already gone does nothing.
    """
    names = [image.file_name, image.thumbnail_name]
    with transaction.atomic():
        deleted, _ = GalleryImage.objects.filter(pk=image.pk).delete()
        if not deleted:
            return
        _bump_revision()
        record(request=request, action="gallery_image.delete", target=image.pk, detail={"file": image.file_name})
        transaction.on_commit(partial(_delete_files, names), robust=True)


def gallery_images_delete(*, images, request=None) -> int:
    """Delete each of `images` as gallery_image_delete does, in one transaction; return how many."""
    count = 0
    with transaction.atomic():
        for image in images:
            gallery_image_delete(image=image, request=request)
            count += 1
    return count


def gallery_orphans_delete(*, older_than=timedelta(hours=1)) -> list[str]:
    """Remove files under gallery/ that no row names and that are older than `older_than`; return their names.

    The age guard spares files of an upload whose transaction has not committed
    yet; leftovers of an interrupted atomic write (`.incoming-*`) go the same way.
    """
    storage = media_storage()
    try:
        _, files = storage.listdir(GALLERY_DIR)
    except FileNotFoundError:
        return []
    cutoff = timezone.now() - older_than
    candidates = [f"{GALLERY_DIR}/{name}" for name in files]
    named = set(GalleryImage.objects.filter(file_name__in=candidates).values_list("file_name", flat=True))
    named |= set(GalleryImage.objects.filter(thumbnail_name__in=candidates).values_list("thumbnail_name", flat=True))
    removed = []
    for name in candidates:
        if name in named or storage.get_modified_time(name) >= cutoff:
            continue
        storage.delete(name)
        removed.append(name)
    if removed:
        logger.info("removed %d orphan gallery files", len(removed))
    return removed


def gallery_revision() -> tuple[int, datetime | None]:
    """Return (revision number, time of the last change) of the gallery: one primary-key read.

    Every public gallery request starts with it (a revalidation is nothing
    else), so it is a fixed statement (adbot_admin/statements.py), not an ORM query.
    """
    row = statements.fetchone(_revision_statement(), [REVISION_PK])
    if row is None:
        return (0, None)
    number, changed_at = row
    if isinstance(changed_at, str):  # SQLite hands a raw cursor the stored text
        changed_at = parse_datetime(changed_at)
    if changed_at is not None and timezone.is_naive(changed_at):
        changed_at = changed_at.replace(tzinfo=UTC)
    return (number, changed_at)


@cache
def _revision_statement():
    quote = connection.ops.quote_name
    meta = GalleryRevision._meta
    return (
        f"SELECT {quote(meta.get_field('number').column)}, {quote(meta.get_field('changed_at').column)}"
        f" FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s"
    )


def _bump_revision():
    now = timezone.now()
    if not GalleryRevision.objects.filter(pk=REVISION_PK).update(number=F("number") + 1, changed_at=now):
        # The migration makes the row; a flushed test database has lost it.
        GalleryRevision.objects.update_or_create(pk=REVISION_PK, defaults={"number": 1, "changed_at": now})


def _delete_files(names, *, storage=None):
    """Remove `names` from media storage; a failure is logged, never raised."""
    storage = storage or media_storage()
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete gallery file %s", name)
