"""Unit tests for cms.images: pure Pillow, no Django settings needed.

Run: .venv/bin/python -m pytest cms/tests/test_images.py -p no:django -q
"""

from __future__ import annotations

import io
import random
import warnings

import pytest
from PIL import Image, ImageChops, ImageFile

from cms import images
from cms.images import ImageRejected, ProcessedImage, process_image
from cms.tests import image_files

MiB = 1024 * 1024
LIMITS = {"max_bytes": 10 * MiB, "max_pixels": 40_000_000}
NOT_AN_IMAGE = "file is not a JPEG, PNG, WebP or GIF image"
DAMAGED = "image is damaged or truncated and cannot be read"


def process(data: bytes, **overrides) -> ProcessedImage:
    return process_image(io.BytesIO(data), **{**LIMITS, **overrides})


def refusal(data: bytes, **overrides) -> str:
    """Return the ImageRejected message for data, failing if it is accepted."""
    with pytest.raises(ImageRejected) as caught:
        process(data, **overrides)
    return str(caught.value)


def reopen(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def outputs(result: ProcessedImage) -> list[bytes]:
    return [result.content, result.thumbnail]


def colour_at(image: Image.Image, x: int, y: int) -> str:
    """Return "red" or "blue" for the pixel, tolerant of JPEG noise."""
    red, _, blue = image.convert("RGB").getpixel((x, y))
    return "red" if red > blue else "blue"


# --- accepted formats --------------------------------------------------------

FORMATS = [
    (image_files.jpeg_bytes, "jpeg", "image/jpeg", "jpg", "JPEG"),
    (image_files.png_bytes, "png", "image/png", "png", "PNG"),
    (image_files.webp_bytes, "webp", "image/webp", "webp", "WEBP"),
    (image_files.gif_bytes, "gif", "image/gif", "gif", "GIF"),
]


@pytest.mark.parametrize(("factory", "name", "content_type", "extension", "pillow_format"), FORMATS)
def test_accepted_format_round_trips(factory, name, content_type, extension, pillow_format):
    result = process(factory(800, 600))

    assert (result.format, result.content_type, result.extension) == (
        name,
        content_type,
        extension,
    )
    assert (result.width, result.height) == (800, 600)
    stored = reopen(result.content)
    assert (stored.format, stored.size) == (pillow_format, (800, 600))
    thumbnail = reopen(result.thumbnail)
    assert (thumbnail.format, thumbnail.size) == (pillow_format, (400, 300))
    thumbnail.load()  # the thumbnail decodes completely


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((300, 900), (400, 400), (133, 400)),
        ((900, 300), (200, 100), (200, 67)),
        ((64, 48), (400, 400), (64, 48)),  # never enlarged
        ((1000, 1), (100, 100), (100, 1)),  # never collapses to zero
    ],
)
def test_thumbnail_fits_box_and_keeps_aspect_ratio(size, box, expected):
    result = process(image_files.png_bytes(*size), thumbnail_size=box)

    assert reopen(result.thumbnail).size == expected


@pytest.mark.parametrize(
    ("data", "pillow_format"),
    [
        (image_files.gif_bytes(frames=4, transparent=True), "GIF"),
        (image_files.webp_bytes(frames=4), "WEBP"),
        (image_files.apng_bytes(frames=3), "PNG"),
    ],
)
def test_animation_is_kept_in_content_and_thumbnail(data, pillow_format):
    frames = reopen(data).n_frames

    result = process(data, thumbnail_size=(16, 16))

    for output in outputs(result):
        stored = reopen(output)
        assert stored.format == pillow_format
        assert stored.n_frames == frames


def test_animated_frames_keep_their_pixels():
    data = image_files.gif_bytes(frames=4, transparent=True)
    original = reopen(data)

    stored = reopen(process(data).content)

    for index in range(original.n_frames):
        original.seek(index)
        stored.seek(index)
        expected = original.convert("RGBA")
        assert stored.convert("RGBA").getpixel((0, 0))[3] == 0  # still transparent
        for point in [(20, 30), (40, 10), (63, 47)]:
            assert stored.convert("RGBA").getpixel(point) == expected.getpixel(point)


def test_png_transparency_is_kept():
    result = process(image_files.png_bytes(mode="RGBA"))

    assert reopen(result.content).mode == "RGBA"


def test_multi_picture_jpeg_is_accepted_as_its_first_picture():
    result = process(image_files.mpo_bytes())

    stored = reopen(result.content)
    assert (result.format, stored.format) == ("jpeg", "JPEG")
    assert getattr(stored, "n_frames", 1) == 1
    assert colour_at(stored, 5, 5) == "red"


def test_cmyk_jpeg_is_stored_as_rgb():
    stored = reopen(process(image_files.cmyk_jpeg_bytes()).content)

    assert stored.mode == "RGB"
    assert colour_at(stored, 5, 5) == "red"


def test_16_bit_grey_png_is_scaled_not_clipped():
    stored = reopen(process(image_files.png_16bit_grey_bytes()).content)

    assert stored.mode == "L"
    assert stored.getpixel((0, 0)) == 128


def test_reads_from_the_start_of_the_file():
    upload = io.BytesIO(image_files.jpeg_bytes())
    upload.seek(0, io.SEEK_END)

    assert process_image(upload, **LIMITS).format == "jpeg"


# --- refused content ---------------------------------------------------------


@pytest.mark.parametrize(
    "factory",
    [
        image_files.svg_with_script,
        image_files.html_renamed_as_jpg,
        image_files.text_bytes,
        image_files.pdf_bytes,
        image_files.bmp_bytes,
        image_files.tiff_bytes,
    ],
)
def test_other_content_is_refused(factory):
    assert refusal(factory()) == NOT_AN_IMAGE


class NamedUpload(io.BytesIO):
    """A file object that, like an UploadedFile, declares a name and a type."""

    name = "photo.jpg"
    content_type = "image/jpeg"


def test_filename_and_declared_type_are_ignored():
    upload = NamedUpload(image_files.html_renamed_as_jpg())

    with pytest.raises(ImageRejected, match=NOT_AN_IMAGE):
        process_image(upload, **LIMITS)


@pytest.mark.parametrize("factory", [image_files.truncated_jpeg, image_files.truncated_png])
def test_truncated_image_is_refused(factory):
    assert refusal(factory()) == DAMAGED


def test_empty_file_is_refused():
    assert refusal(b"") == "file is empty"


def test_zero_size_image_is_refused():
    assert refusal(image_files.png_zero_size())


def test_refusal_when_truncated_images_are_allowed_globally(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)

    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        process(image_files.truncated_jpeg())


# --- size limits -------------------------------------------------------------


def test_file_larger_than_max_bytes_is_refused():
    data = image_files.oversize_bytes(10 * MiB + 1)

    assert refusal(data) == "image is larger than 10 MiB"


def test_file_of_exactly_max_bytes_is_accepted():
    data = image_files.oversize_bytes(4096)

    assert process(data, max_bytes=4096).format == "jpeg"


class CountingUpload(io.BytesIO):
    """A file object that counts how many bytes were read from it."""

    bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_oversized_upload_is_not_read_past_the_limit():
    upload = CountingUpload(image_files.oversize_bytes(5 * MiB))

    with pytest.raises(ImageRejected, match="larger than 1 MiB"):
        process_image(upload, max_bytes=MiB, max_pixels=LIMITS["max_pixels"])
    assert upload.bytes_read <= MiB + 1


def test_decompression_bomb_is_refused():
    message = refusal(image_files.png_decompression_bomb())

    assert message.startswith("image has too many pixels")


def test_bomb_within_pillow_ceiling_is_refused_by_max_pixels():
    # 64 megapixels is below Pillow's own warning level (about 89 megapixels).
    message = refusal(image_files.png_decompression_bomb(8000, 8000))

    assert message == ("image has too many pixels (8000x8000); the limit is 40 megapixels")


def test_pixels_are_counted_before_decoding():
    # The IDAT is cut short: decoding would fail with DAMAGED instead.
    data = image_files.png_header_only_bomb(8000, 8000)

    assert refusal(data).startswith("image has too many pixels (8000x8000)")


def test_144_megapixel_header_is_refused():
    assert refusal(image_files.png_header_only_bomb()).startswith("image has too many pixels")


def test_pillow_bomb_warning_refuses_even_with_a_higher_max_pixels():
    message = refusal(image_files.png_header_only_bomb(), max_pixels=10**12)

    assert message.startswith("image has too many pixels")


def test_max_pixels_holds_without_pillow_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    message = refusal(image_files.png_decompression_bomb())

    assert message == ("image has too many pixels (20000x20000); the limit is 40 megapixels")


def test_global_pillow_and_warnings_state_is_left_alone():
    filters = list(warnings.filters)
    max_image_pixels = Image.MAX_IMAGE_PIXELS

    refusal(image_files.png_header_only_bomb())

    assert warnings.filters == filters
    assert Image.MAX_IMAGE_PIXELS == max_image_pixels
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    "mode",
    ["RGB", "RGBA"],  # lossy VP8 and VP8X chunks
)
def test_webp_canvas_is_checked_before_pillow_opens_it(mode, monkeypatch):
    def fail_open(*args, **kwargs):
        raise AssertionError("Pillow should not open an oversized WebP")

    monkeypatch.setattr(Image, "open", fail_open)

    message = refusal(image_files.webp_bytes(200, 100, mode=mode), max_pixels=10_000)

    assert message == "image has too many pixels (200x100); the limit is 10000 pixels"


def test_lossless_webp_canvas_size_is_read():
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 7)).save(buffer, "WEBP", lossless=True)

    assert images._webp_canvas_size(buffer.getvalue()) == (300, 7)


def test_animation_pixels_count_every_frame():
    data = image_files.gif_bytes(100, 100, frames=10)

    assert process(data, max_pixels=100_000).format == "gif"
    assert refusal(data, max_pixels=99_999) == (
        "image has too many pixels (100x100 x 10 frames); the limit is 99999 pixels"
    )


def test_animation_frame_count_is_capped(monkeypatch):
    monkeypatch.setattr(images, "MAX_FRAMES", 5)

    message = refusal(image_files.gif_many_frames(6))

    assert message == "animation has 6 frames; the limit is 5"


# --- nothing hidden or identifying survives ----------------------------------


@pytest.mark.parametrize(
    "data",
    [
        image_files.jpeg_bytes(exif_gps=True, comment=b"taken by Uploader Name Marker"),
        image_files.png_bytes(exif_gps=True, text={"Author": "Uploader Name Marker"}),
        image_files.webp_bytes(exif_gps=True),
        image_files.webp_bytes(exif_gps=True, frames=3),
    ],
    ids=["jpeg", "png", "webp", "animated-webp"],
)
def test_identifying_metadata_is_removed(data):
    assert image_files.UPLOADER_MARKER.encode() in data  # the factory planted it

    for output in outputs(process(data)):
        stored = reopen(output)
        assert not stored.getexif()
        leaked = {"exif", "comment", "xmp", "icc_profile", "Author"} & set(stored.info)
        assert not leaked
        assert image_files.UPLOADER_MARKER.encode() not in output
        assert image_files.CAMERA_MARKER.encode() not in output


@pytest.mark.parametrize(
    "factory",
    [
        image_files.gif_with_html_after_trailer,
        image_files.jpeg_with_script_comment,
        image_files.png_with_text_chunk_script,
    ],
)
def test_hidden_payload_is_removed(factory):
    data = factory()
    assert image_files.SCRIPT_MARKER in data  # the factory planted it

    for output in outputs(process(data)):
        assert b"<script" not in output
        assert b"<html" not in output
        assert b"xss-marker" not in output


@pytest.mark.parametrize(
    ("orientation", "size", "top_left"),
    [
        (1, (60, 40), "red"),
        (2, (60, 40), "blue"),  # mirrored
        (3, (60, 40), "blue"),  # upside down
        (6, (40, 60), "red"),  # needs a clockwise turn: the left half goes on top
        (8, (40, 60), "blue"),  # needs an anticlockwise turn
    ],
)
def test_exif_orientation_is_applied(orientation, size, top_left):
    result = process(image_files.jpeg_bytes(60, 40, orientation=orientation))

    assert (result.width, result.height) == size
    for output in outputs(result):
        stored = reopen(output)
        assert stored.size == size
        assert colour_at(stored, size[0] // 4, size[1] // 4) == top_left
        assert not stored.getexif()  # the orientation tag is not applied twice


# --- robustness --------------------------------------------------------------

SEEDS = [
    image_files.jpeg_bytes(32, 32, exif_gps=True),
    image_files.png_bytes(32, 32),
    image_files.webp_bytes(32, 32),
    image_files.gif_bytes(32, 32, frames=3),
]


# Pillow warns about the corrupt EXIF the mutations produce; that is expected.
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data", "ignore:Truncated File Read")
@pytest.mark.parametrize("seed", SEEDS, ids=["jpeg", "png", "webp", "gif"])
def test_mutated_files_are_processed_or_refused_never_crash(seed):
    rng = random.Random(seed[:64])
    accepted = 0
    for _ in range(150):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            data[position] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randint(1, len(data)) :]
        try:
            result = process(bytes(data), max_pixels=1_000_000)
        except ImageRejected as refusal:
            assert str(refusal)  # a refusal says why
            continue
        # What is accepted is a clean image of an accepted format that opens again as what it claims.
        stored = reopen(result.content)
        assert stored.format.lower() == result.format
        assert stored.size == (result.width, result.height)
        assert 0 < result.width <= 32 and 0 < result.height <= 32
        assert not stored.getexif()
        accepted += 1
    # Some mutations survive decoding: the loop did test the accepting path too.
    assert accepted > 0


# --- web size ----------------------------------------------------------------


def _detailed(width: int, height: int, mode: str) -> Image.Image:
    """Return a picture with fine detail everywhere, so a seam between bands would show."""
    image = Image.open(io.BytesIO(image_files.photo_jpeg_bytes(width, height))).convert("RGB")
    noise = image_files._noise(width, height, seed=7)
    image = Image.blend(image, noise, 0.25)
    if "A" in mode:
        alpha = Image.linear_gradient("L").resize((width, height))
        image.putalpha(alpha)
    return image.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_downscale_in_bands_equals_one_lanczos_resize_of_the_whole(mode):
    source = _detailed(900, 700, mode)
    data = image_files._save(source, "PNG")

    result = process(data, max_side=300)

    stored = reopen(result.content)
    assert stored.size == (300, 233)
    clean_mode = {"P": "RGB"}.get(mode, mode)
    reference = source.convert(clean_mode).resize((300, 233), Image.Resampling.LANCZOS)
    # Compared as Pillow resizes: colour premultiplied by alpha.
    compared = {"RGBA": "RGBa"}.get(clean_mode, "RGB")
    difference = ImageChops.difference(stored.convert(compared), reference.convert(compared))
    # Rounding of the band's box may move a value by one level, no more.
    assert max(high for _, high in difference.getextrema()) <= 1


def test_16_bit_grey_is_scaled_to_8_bits_then_downscaled():
    result = process(image_files.png_16bit_grey_bytes(200, 100), max_side=50)

    stored = reopen(result.content)
    assert (stored.mode, stored.size) == ("L", (50, 25))
    assert stored.getextrema() == (128, 128)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((7360, 4912), 2560, (2560, 1709)),
        ((4912, 7360), 2560, (1709, 2560)),
        ((3000, 3000), 2560, (2560, 2560)),
        ((2560, 100), 2560, (2560, 100)),
        ((2561, 1), 2560, (2560, 1)),
        ((100, 100), 2560, (100, 100)),
    ],
)
def test_stored_size_fits_max_side_keeping_the_aspect_ratio(size, max_side, expected):
    result = process(image_files.jpeg_bytes(*size), max_side=max_side)

    assert (result.width, result.height) == expected
    assert (result.original_width, result.original_height) == size
    assert reopen(result.content).size == expected
