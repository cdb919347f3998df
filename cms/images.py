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
- Web size: the stored image fits max_side x max_side (Lanczos, aspect ratio
  kept, never enlarged); every animation frame alike, durations and loop kept.
- Bounded memory: a JPEG is decoded at 1/2, 1/4 or 1/8 scale (Pillow's draft
  mode) when that still leaves at least the target size, so a camera photo never
  exists in memory at full size. Other formats are decoded whole, within
  max_pixels. The downscale runs band by band (Image.resize with a box, over a
  crop holding the filter's support), so no full-size converted copy or
  intermediate is made: its output is the same as one resize of the whole.
  The upload is read by Pillow from its file, never copied into memory.
- The EXIF orientation is read before scaling and applied to the scaled pixels:
  the fit box is square, so the stored size is the one the upright picture gets,
  and turning the smaller image costs less memory.
- All metadata is dropped, including the ICC profile: EXIF/GPS, XMP, comments
  and text chunks can identify the uploader or smuggle markup, and parsing an
  ICC profile would expose one more parser to attacker data. Colour conversion
  is Pillow's plain one (e.g. CMYK -> RGB); wide-gamut photos may look slightly
  less saturated, which is acceptable for a gallery.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from contextlib import closing
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageFile

from adbot_admin.sizes import describe_bytes

# Pillow format ids accepted for upload, passed to Image.open(formats=...).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")

# The longest side of a stored image unless the caller says otherwise.
DEFAULT_MAX_SIDE = 2560

# Output rows resized per band: small enough that a band's crop and Pillow's
# intermediate stay a few MiB, large enough that the overlap is negligible.
_BAND_ROWS = 64
# Lanczos reaches 3 source pixels either side, times the reduction factor.
_LANCZOS_SUPPORT = 3.0

# A tiny GIF can hold hundreds of thousands of 1x1 frames within the byte limit;
# each frame costs Python-level work, so their number is capped separately.
MAX_FRAMES = 1000

# The longest WebP header _webp_canvas_size reads.
_WEBP_HEADER_BYTES = 30

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
# Orientations 5 to 8 turn the picture a quarter: its width and height swap.
_SWAPS_SIDES = frozenset(_ORIENTATION_TRANSPOSE[orientation] for orientation in (5, 6, 7, 8))


class ImageRejected(Exception):
    """Raised with a clear human message (str(exc)) saying why the upload is refused."""


class ImageTooLarge(ImageRejected):
    """Raised when an upload is larger than IMAGE_MAX_BYTES (the API answers 413)."""


@dataclass(frozen=True)
class ProcessedImage:
    """A cleaned image and its thumbnail, both re-encoded in the same format."""

    format: str  # "jpeg" | "png" | "webp" | "gif"
    content_type: str  # "image/jpeg" ...
    extension: str  # "jpg" | "png" | "webp" | "gif"
    width: int  # stored size, upright
    height: int
    original_width: int  # uploaded size, upright
    original_height: int
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
    "WEBP": _Output("webp", "WEBP", "image/webp", "webp", True, (("quality", 85), ("method", 4))),
    "GIF": _Output("gif", "GIF", "image/gif", "gif", True, ()),
}


@dataclass
class _Frames:
    """Clean decoded frames plus the timing needed to write an animation."""

    images: list[Image.Image]
    durations: list[int]
    loop: int | None
    orientation: Image.Transpose | None = None  # still to apply
    original_size: tuple[int, int] = (0, 0)  # upright


def process_image(
    fileobj: BinaryIO,
    *,
    max_bytes: int,
    max_pixels: int,
    max_side: int = DEFAULT_MAX_SIDE,
    thumbnail_size: tuple[int, int] = (400, 400),
) -> ProcessedImage:
    """Return the upload re-encoded from its pixels at web size, with a thumbnail.

    The stored image fits max_side x max_side; the thumbnail fits thumbnail_size.
    Raises ImageRejected when the upload is empty, larger than max_bytes, not a
    JPEG/PNG/WebP/GIF, damaged or truncated, or holds more than max_pixels
    pixels (summed over animation frames). No Pillow exception escapes.
    Raises RuntimeError if PIL.ImageFile.LOAD_TRUNCATED_IMAGES has been turned
    on elsewhere, since truncated uploads would then be silently accepted.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; truncated uploads would be accepted")
    _check_length(fileobj, max_bytes)
    # Pillow's WebP plugin hands the file to libwebp's animation decoder on open,
    # which allocates canvas buffers straight away, so a declared size is checked first.
    webp_size = _webp_canvas_size(fileobj.read(_WEBP_HEADER_BYTES))
    if webp_size is not None:
        _check_pixel_budget(webp_size, 1, max_pixels)
    fileobj.seek(0)
    try:
        # Pillow warns between MAX_IMAGE_PIXELS and twice that, and raises above.
        # The warning becomes an error here so it refuses the upload instead of
        # only being logged. catch_warnings swaps process-wide filters (not
        # thread-safe before Python 3.14); a race can only leave this stricter
        # filter in place or drop it, and the max_pixels check below stands
        # either way.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # closing(), not the image's own context manager: only close()
            # frees the decoded pixels, before the frames are turned and encoded.
            with closing(Image.open(fileobj, formats=ACCEPTED_FORMATS)) as source:
                output = _OUTPUTS[source.format]
                frames = _decode_frames(source, output, max_pixels, max_side)
        _upright(frames)
        return _encode_result(frames, output, thumbnail_size)
    except Image.UnidentifiedImageError as exc:
        raise ImageRejected("file is not a JPEG, PNG, WebP or GIF image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own ceiling may be the lower one; name whichever refused.
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        raise ImageRejected(f"image has too many pixels; the limit is {_describe_pixels(limit)}") from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("image is damaged or truncated and cannot be read") from exc


def _check_length(fileobj: BinaryIO, max_bytes: int) -> None:
    """Raise ImageRejected if the upload is empty or larger than max_bytes.

    The length is the stream's own (its end offset), not a declared size such
    as UploadedFile.size, and no byte is read to learn it: Pillow later reads
    the file in small blocks, so the upload never sits in memory whole.
    """
    fileobj.seek(0, io.SEEK_END)
    length = fileobj.tell()
    fileobj.seek(0)
    if length > max_bytes:
        raise ImageTooLarge(f"image is larger than {describe_bytes(max_bytes)}")
    if length == 0:
        raise ImageRejected("file is empty")


def _webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) from a WebP header, or None if data is not one (then Pillow judges it)."""
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


def _decode_frames(source: ImageFile.ImageFile, output: _Output, max_pixels: int, max_side: int) -> _Frames:
    """Return the clean frames of source at web size, checking the pixel budget before decoding.

    The frames are not turned upright yet (see _upright): that waits until the
    decoded source has been released. Raises ImageRejected if the header
    declares no pixels, too many frames or more than max_pixels pixels in total.
    """
    frame_count = getattr(source, "n_frames", 1) if output.keeps_animation else 1
    _check_pixel_budget(source.size, frame_count, max_pixels)
    canvas = source.size
    # The box is square, so the size fits whichever way the picture is turned.
    target = _fit_within(canvas, (max_side, max_side))
    animated = frame_count > 1
    frames = _Frames(images=[], durations=[], loop=source.info.get("loop"))
    for index in range(frame_count):
        source.seek(index)
        # A GIF frame may stretch the canvas while seeking; frames of one
        # animation must share a size, and the budget was counted on the first.
        if source.size != canvas:
            raise ImageRejected("animation frames differ in size")
        region = _reduce_decoding(source, target)
        source.load()
        if index == 0:
            frames.orientation = _exif_orientation(source)
        frames.images.append(_clean_frame(source, output, animated, target, region))
        frames.durations.append(int(source.info.get("duration") or 0))
    frames.original_size = canvas[::-1] if frames.orientation in _SWAPS_SIDES else canvas
    return frames


def _reduce_decoding(source: ImageFile.ImageFile, target: tuple[int, int]) -> tuple[float, float, float, float]:
    """Return the region of the decoded pixels that holds the picture, asking for a reduced decode.

    Only Pillow's JPEG decoder acts on the request (draft mode): it decodes at
    the smallest of 1/2, 1/4 or 1/8 scale that still holds target, or at full
    size when target is more than half the original. Other formats decode whole.
    """
    if target != source.size:
        drafted = source.draft(None, target)
        if drafted is not None:
            return drafted[1]
    return (0, 0, *source.size)


def _check_pixel_budget(size: tuple[int, int], frame_count: int, max_pixels: int) -> None:
    """Raise ImageRejected if size is empty or frames x pixels exceeds max_pixels."""
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageRejected("image has no pixels")
    if frame_count > MAX_FRAMES:
        raise ImageRejected(f"animation has {frame_count} frames; the limit is {MAX_FRAMES}")
    if frame_count * width * height > max_pixels:
        frames = f" x {frame_count} frames" if frame_count > 1 else ""
        raise ImageRejected(
            f"image has too many pixels ({width}x{height}{frames}); the limit is {_describe_pixels(max_pixels)}"
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
    size: tuple[int, int],
    region: tuple[float, float, float, float],
) -> Image.Image:
    """Return a new image holding only the pixels of frame's region, at size.

    The result carries no info dict, so no comment, EXIF, XMP, ICC profile or
    text chunk can reach the encoder: Pillow copies info through convert(),
    copy() and resize(), and save() writes some of its items.
    """
    mode = _output_mode(frame, output, animated)
    if size == frame.size and region == (0, 0, *frame.size):
        clean = _convert(frame, mode)
    else:
        clean = _downscale(frame, mode, size, region)
    clean.info = {}
    return clean


def _convert(image: Image.Image, mode: str) -> Image.Image:
    """Return a new image of image's pixels in mode."""
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        # Pillow clips 16-bit grey to 8 bits instead of scaling it.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert(mode)
    return image.convert(mode)  # always a new image, even for the same mode


def _downscale(
    image: Image.Image,
    mode: str,
    size: tuple[int, int],
    region: tuple[float, float, float, float],
) -> Image.Image:
    """Return region of image converted to mode and resized to size (Lanczos).

    Works in bands of output rows, each resized from its exact source box
    (converted first, when needed, in a crop that holds every source row the
    filter reaches), so the result equals one resize of the whole while a
    converted copy and Pillow's intermediate exist only a band at a time.
    """
    width, height = size
    left, top, right, bottom = region
    scale = (bottom - top) / height
    reach = _LANCZOS_SUPPORT * max(scale, 1.0) + 1
    # Pillow resizes RGB and L straight from a box of the source; other modes
    # need converting first, and it would turn a whole RGBA image into RGBa.
    direct = image.mode == mode and mode in ("RGB", "L")
    result = Image.new(mode, size)
    for first in range(0, height, _BAND_ROWS):
        last = min(height, first + _BAND_ROWS)
        y0 = top + first * scale
        y1 = bottom if last == height else top + last * scale
        if direct:
            band, offset = image, 0
        else:
            offset = max(0, math.floor(y0 - reach))
            crop = image.crop((0, offset, image.width, min(image.height, math.ceil(y1 + reach))))
            band = _convert(crop, mode)
        piece = band.resize(
            (width, last - first),
            Image.Resampling.LANCZOS,
            box=(left, y0 - offset, right, y1 - offset),
        )
        result.paste(piece, (0, first))
    return result


def _upright(frames: _Frames) -> None:
    """Apply the EXIF orientation to every frame, one at a time."""
    if frames.orientation is None:
        return
    for index, image in enumerate(frames.images):
        frames.images[index] = image.transpose(frames.orientation)


def _output_mode(frame: Image.Image, output: _Output, animated: bool) -> str:
    """Return the Pillow mode the frame is re-encoded in."""
    grey = frame.mode in ("1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N")
    if output is _JPEG:
        return "L" if grey else "RGB"
    # GIF frames after the first decode as RGB(A), so a whole animation uses RGBA.
    if animated or "A" in frame.mode or "a" in frame.mode or frame.info.get("transparency") is not None:
        return "RGBA"
    return "L" if grey else "RGB"


def _encode_result(frames: _Frames, output: _Output, thumbnail_size: tuple[int, int]) -> ProcessedImage:
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
        original_width=frames.original_size[0],
        original_height=frames.original_size[1],
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


def _describe_pixels(count: int) -> str:
    """Return count as a short human pixel count, e.g. "40 megapixels"."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:g} megapixels"
    return f"{count} pixels"
