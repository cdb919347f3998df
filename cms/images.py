"""Validation and safe re-encoding of uploaded gallery images.

Pure Python (Pillow, no Django), so every rule can be tested on bytes alone.

Decisions:
- Accepted: JPEG, PNG, WebP and GIF, recognised by Pillow from the content; the
  filename and declared content type are never consulted, and no other Pillow
  plugin ever sees the bytes.
- The output is re-encoded from decoded pixels in the same format as the input.
  The thumbnail uses that format too, so one content type and extension describe
  both files and animation and transparency survive in the thumbnail.
- Animation (GIF, WebP and animated PNG) is kept when frames x width x height
  stays within max_pixels and there are at most MAX_FRAMES frames. A
  multi-picture JPEG (MPO) keeps its first picture only.
- All metadata is dropped, including the ICC profile: EXIF/GPS, XMP, comments
  and text chunks can identify the uploader or smuggle markup, and parsing an
  ICC profile would expose one more parser to attacker data. Colour conversion
  is Pillow's plain one (e.g. CMYK -> RGB); wide-gamut photos may look slightly
  less saturated, which is acceptable for a gallery.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageFile

# Pillow format ids accepted for upload, passed to Image.open(formats=...).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")

# A tiny GIF can hold hundreds of thousands of 1x1 frames within the byte limit;
# each frame costs Python-level work, so their number is capped separately.
MAX_FRAMES = 1000

_READ_CHUNK = 64 * 1024

# Everything Pillow is known to raise on malformed input. DecompressionBombWarning
# is listed because process_image turns it into an error.
_DECODE_ERRORS = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,
    ValueError,
    TypeError,
    LookupError,
    ArithmeticError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)

# EXIF orientation -> the transpose that displays the image upright
# (the same table as PIL.ImageOps.exif_transpose).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112


class ImageRejected(Exception):
    """Raised with a clear human message (str(exc)) saying why the upload is refused."""


@dataclass(frozen=True)
class ProcessedImage:
    """A cleaned image and its thumbnail, both re-encoded in the same format."""

    format: str  # "jpeg" | "png" | "webp" | "gif"
    content_type: str  # "image/jpeg" ...
    extension: str  # "jpg" | "png" | "webp" | "gif"
    width: int
    height: int
    content: bytes  # the re-encoded image
    thumbnail: bytes  # the re-encoded thumbnail, same format as content


@dataclass(frozen=True)
class _Output:
    """How one accepted format is written back."""

    name: str
    pillow_format: str
    content_type: str
    extension: str
    keeps_animation: bool
    save_params: tuple[tuple[str, object], ...]


_JPEG = _Output("jpeg", "JPEG", "image/jpeg", "jpg", False, (("quality", 85),))
_OUTPUTS = {
    "JPEG": _JPEG,
    # Pillow's JPEG plugin returns MPO for multi-picture JPEGs (phone cameras).
    "MPO": _JPEG,
    "PNG": _Output("png", "PNG", "image/png", "png", True, (("compress_level", 6),)),
    "WEBP": _Output(
        "webp", "WEBP", "image/webp", "webp", True, (("quality", 85), ("method", 4))
    ),
    "GIF": _Output("gif", "GIF", "image/gif", "gif", True, ()),
}


@dataclass
class _Frames:
    """Clean decoded frames plus the timing needed to write an animation."""

    images: list[Image.Image]
    durations: list[int]
    loop: int | None


def process_image(
    fileobj: BinaryIO,
    *,
    max_bytes: int,
    max_pixels: int,
    thumbnail_size: tuple[int, int] = (400, 400),
) -> ProcessedImage:
    """Return the upload re-encoded from its pixels, with a thumbnail.

    Raises ImageRejected when the upload is empty, larger than max_bytes, not a
    JPEG/PNG/WebP/GIF, damaged or truncated, or holds more than max_pixels
    pixels (summed over animation frames). No Pillow exception escapes.
    Raises RuntimeError if PIL.ImageFile.LOAD_TRUNCATED_IMAGES has been turned
    on elsewhere, since truncated uploads would then be silently accepted.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; "
            "truncated uploads would be accepted"
        )
    data = _read_limited(fileobj, max_bytes)
    _check_webp_canvas(data, max_pixels)
    try:
        # Pillow warns between MAX_IMAGE_PIXELS and twice that, and raises above.
        # The warning becomes an error here so it refuses the upload instead of
        # only being logged. catch_warnings swaps process-wide filters (not
        # thread-safe before Python 3.14); a race can only leave this stricter
        # filter in place or drop it, and the max_pixels check below stands
        # either way.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as source:
                output = _OUTPUTS[source.format]
                frames = _decode_frames(source, output, max_pixels)
        return _encode_result(frames, output, thumbnail_size)
    except Image.UnidentifiedImageError as exc:
        raise ImageRejected("file is not a JPEG, PNG, WebP or GIF image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own ceiling may be the lower one; name whichever refused.
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        raise ImageRejected(
            f"image has too many pixels; the limit is {_describe_pixels(limit)}"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("image is damaged or truncated and cannot be read") from exc


def _read_limited(fileobj: BinaryIO, max_bytes: int) -> bytes:
    """Return the whole upload, reading at most max_bytes + 1 bytes.

    Raises ImageRejected if the upload is empty or larger than max_bytes. The
    declared size (e.g. UploadedFile.size) is not trusted.
    """
    fileobj.seek(0)
    chunks = []
    remaining = max_bytes + 1
    while remaining > 0:
        chunk = fileobj.read(min(_READ_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    if remaining <= 0:
        raise ImageRejected(f"image is larger than {_describe_bytes(max_bytes)}")
    data = b"".join(chunks)
    if not data:
        raise ImageRejected("file is empty")
    return data


def _check_webp_canvas(data: bytes, max_pixels: int) -> None:
    """Raise ImageRejected if data is a WebP whose header declares too many pixels.

    Pillow's WebP plugin hands the file to libwebp's animation decoder on open,
    which allocates canvas buffers straight away, so the size is checked first.
    Anything that is not a recognisable WebP header is left to Pillow.
    """
    size = _webp_canvas_size(data)
    if size is not None:
        _check_pixel_budget(size, 1, max_pixels)


def _webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) from a WebP header, or None if data is not one."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _decode_frames(
    source: ImageFile.ImageFile, output: _Output, max_pixels: int
) -> _Frames:
    """Return the clean frames of source, checking the pixel budget before decoding.

    Raises ImageRejected if the header declares no pixels, too many frames or
    more than max_pixels pixels in total.
    """
    frame_count = getattr(source, "n_frames", 1) if output.keeps_animation else 1
    _check_pixel_budget(source.size, frame_count, max_pixels)
    canvas = source.size
    animated = frame_count > 1
    orientation = None
    frames = _Frames(images=[], durations=[], loop=source.info.get("loop"))
    for index in range(frame_count):
        source.seek(index)
        # A GIF frame may stretch the canvas while seeking; frames of one
        # animation must share a size, and the budget was counted on the first.
        if source.size != canvas:
            raise ImageRejected("animation frames differ in size")
        source.load()
        if orientation is None:
            orientation = _exif_orientation(source)
        frames.images.append(_clean_frame(source, output, animated, orientation))
        frames.durations.append(int(source.info.get("duration") or 0))
    return frames


def _check_pixel_budget(
    size: tuple[int, int], frame_count: int, max_pixels: int
) -> None:
    """Raise ImageRejected if size is empty or frames x pixels exceeds max_pixels."""
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageRejected("image has no pixels")
    if frame_count > MAX_FRAMES:
        raise ImageRejected(
            f"animation has {frame_count} frames; the limit is {MAX_FRAMES}"
        )
    if frame_count * width * height > max_pixels:
        frames = f" x {frame_count} frames" if frame_count > 1 else ""
        raise ImageRejected(
            f"image has too many pixels ({width}x{height}{frames}); "
            f"the limit is {_describe_pixels(max_pixels)}"
        )


def _exif_orientation(source: Image.Image) -> Image.Transpose | None:
    """Return the transpose that makes source upright, or None if none is needed."""
    try:
        value = source.getexif().get(_EXIF_ORIENTATION_TAG)
        return _ORIENTATION_TRANSPOSE.get(value)
    except (*_DECODE_ERRORS, Warning):
        # Broken EXIF is common in camera files; showing the picture unrotated
        # beats refusing it, and the EXIF is discarded anyway. Warning covers
        # Pillow's "Corrupt EXIF data" when warnings are turned into errors.
        return None


def _clean_frame(
    frame: Image.Image,
    output: _Output,
    animated: bool,
    orientation: Image.Transpose | None,
) -> Image.Image:
    """Return a new image holding only the upright pixels of frame.

    The result carries no info dict, so no comment, EXIF, XMP, ICC profile or
    text chunk can reach the encoder: Pillow copies info through convert(),
    copy() and resize(), and save() writes some of its items.
    """
    mode = _output_mode(frame, output, animated)
    if frame.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        # Pillow clips 16-bit grey to 8 bits instead of scaling it.
        clean = frame.convert("I").point(lambda value: value * (1 / 256)).convert(mode)
    else:
        clean = frame.convert(mode)  # always a new image, even for the same mode
    if orientation is not None:
        clean = clean.transpose(orientation)
    clean.info = {}
    return clean


def _output_mode(frame: Image.Image, output: _Output, animated: bool) -> str:
    """Return the Pillow mode the frame is re-encoded in."""
    grey = frame.mode in ("1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N")
    if output is _JPEG:
        return "L" if grey else "RGB"
    # GIF frames after the first decode as RGB(A), so a whole animation uses RGBA.
    has_alpha = (
        animated
        or "A" in frame.mode
        or "a" in frame.mode
        or frame.info.get("transparency") is not None
    )
    if has_alpha:
        return "RGBA"
    return "L" if grey else "RGB"


def _encode_result(
    frames: _Frames, output: _Output, thumbnail_size: tuple[int, int]
) -> ProcessedImage:
    """Return the ProcessedImage for clean frames, encoding content and thumbnail."""
    width, height = frames.images[0].size
    content = _encode(frames, output)
    box = _fit_within((width, height), thumbnail_size)
    # Each full frame is dropped as soon as its thumbnail exists.
    for index, image in enumerate(frames.images):
        frames.images[index] = image.resize(box, Image.Resampling.LANCZOS)
    thumbnail = _encode(frames, output)
    return ProcessedImage(
        format=output.name,
        content_type=output.content_type,
        extension=output.extension,
        width=width,
        height=height,
        content=content,
        thumbnail=thumbnail,
    )


def _encode(frames: _Frames, output: _Output) -> bytes:
    """Return frames written in output's format with explicit, metadata-free params."""
    params = dict(output.save_params)
    first, *rest = frames.images
    if rest:
        params.update(save_all=True, append_images=rest, duration=frames.durations)
        if frames.loop is not None:
            params["loop"] = frames.loop
        if output.pillow_format == "GIF":
            # Frames are whole composited canvases: clear before drawing the next,
            # or transparent areas would show the previous frame.
            params["disposal"] = 2
    buffer = io.BytesIO()
    first.save(buffer, output.pillow_format, **params)
    return buffer.getvalue()


def _fit_within(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """Return size scaled down (never up) to fit box, keeping the aspect ratio."""
    width, height = size
    box_width, box_height = box
    scale = min(1.0, box_width / width, box_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _describe_bytes(count: int) -> str:
    """Return count as a short human size, e.g. "10 MiB"."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= factor:
            value = count / factor
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{count} bytes"


def _describe_pixels(count: int) -> str:
    """Return count as a short human pixel count, e.g. "40 megapixels"."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:g} megapixels"
    return f"{count} pixels"
