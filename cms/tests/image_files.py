"""Factories for valid and hostile upload bytes, shared by unit and HTTP tests.

Each function returns bytes. Hostile files carry the MARKER strings below so a
test can prove that nothing of them survives re-encoding.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib

from PIL import ExifTags, Image, ImageDraw, PngImagePlugin

# Strings planted in hostile or identifying files; none may appear in output.
SCRIPT_MARKER = b"<script>alert('xss-marker')</script>"
HTML_MARKER = b"<html><body>" + SCRIPT_MARKER + b"</body></html>"
UPLOADER_MARKER = "Uploader Name Marker"
CAMERA_MARKER = "SpyCam Marker 3000"

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def _picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Return an image with a red left half and a blue right half."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, max(1, width // 2), height))
    return image.convert(mode)


def _noise(width: int, height: int, seed: int = 1) -> Image.Image:
    """Return an RGB image of random pixels, which compresses poorly."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))


def _identifying_exif(orientation: int | None = None, gps: bool = True) -> Image.Exif:
    """Return EXIF naming the camera and uploader, with GPS coordinates if gps."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA_MARKER
    exif[ExifTags.Base.Artist] = UPLOADER_MARKER
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 22.0, 12.5),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (4.0, 53.0, 40.1),
        }
    return exif


def _save(image: Image.Image, pillow_format: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, pillow_format, **params)
    return buffer.getvalue()


# --- valid files -------------------------------------------------------------


def jpeg_bytes(
    width: int = 64,
    height: int = 48,
    *,
    exif_gps: bool = False,
    comment: bytes | None = None,
    orientation: int | None = None,
    mode: str = "RGB",
) -> bytes:
    """Return a JPEG; exif_gps adds camera/uploader/GPS EXIF, orientation a tag."""
    params = {"quality": 90}
    if exif_gps or orientation is not None:
        params["exif"] = _identifying_exif(orientation, gps=exif_gps).tobytes()
    if comment is not None:
        params["comment"] = comment
    return _save(_picture(width, height, mode), "JPEG", **params)


def photo_jpeg_bytes(width: int, height: int, *, orientation: int | None = None) -> bytes:
    """Return a detailed JPEG: colour gradients crossed by thin lines and filled shapes.

    Detail makes a downscale's filter and geometry show in the pixels; a flat
    image would match any downscale.
    """
    across = Image.linear_gradient("L").resize((width, height))
    down = across.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    image = Image.merge("RGB", (across, down, across.point(lambda value: 255 - value)))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, max(1, width // 40)):
        draw.line((x, 0, width - x, height), fill=(255, 255 - x * 255 // width, 0), width=max(1, width // 400))
    for index in range(6):
        left = width * index // 7
        draw.ellipse(
            (left, height // 4, left + width // 5, height // 4 + height // 3), fill=(250 - 40 * index, 40 * index, 128)
        )
    params = {"quality": 92}
    if orientation is not None:
        params["exif"] = _identifying_exif(orientation, gps=False).tobytes()
    return _save(image, "JPEG", **params)


def png_bytes(
    width: int = 64,
    height: int = 48,
    *,
    mode: str = "RGBA",
    exif_gps: bool = False,
    text: dict[str, str] | None = None,
) -> bytes:
    """Return a PNG in mode; exif_gps adds an eXIf chunk, text adds tEXt chunks."""
    params = {}
    if exif_gps:
        params["exif"] = _identifying_exif().tobytes()
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        params["pnginfo"] = info
    return _save(_picture(width, height, mode), "PNG", **params)


def webp_bytes(
    width: int = 64,
    height: int = 48,
    *,
    frames: int = 1,
    exif_gps: bool = False,
    mode: str = "RGBA",
) -> bytes:
    """Return a WebP, animated when frames > 1; exif_gps adds EXIF and XMP chunks."""
    images = [_frame(width, height, index, mode) for index in range(frames)]
    params = {"quality": 90}
    if exif_gps:
        params["exif"] = _identifying_exif().tobytes()
        params["xmp"] = _xmp()
    if frames > 1:
        params.update(save_all=True, append_images=images[1:], duration=80, loop=0)
    return _save(images[0], "WEBP", **params)


def gif_bytes(width: int = 64, height: int = 48, *, frames: int = 1, transparent: bool = False) -> bytes:
    """Return a GIF, animated when frames > 1, with a transparent corner if asked."""
    images = [_frame(width, height, index, "RGBA") for index in range(frames)]
    if transparent:
        for image in images:
            image.paste((0, 0, 0, 0), (0, 0, max(1, width // 4), max(1, height // 4)))
    params = {}
    if frames > 1:
        params.update(save_all=True, append_images=images[1:], duration=80, loop=0)
    return _save(images[0], "GIF", **params)


def apng_bytes(width: int = 32, height: int = 32, *, frames: int = 3) -> bytes:
    """Return an animated PNG."""
    images = [_frame(width, height, index, "RGBA") for index in range(frames)]
    return _save(images[0], "PNG", save_all=True, append_images=images[1:], duration=80, loop=0)


def mpo_bytes(width: int = 64, height: int = 48) -> bytes:
    """Return a two-picture MPO (multi-picture JPEG, as some cameras write)."""
    first, second = _picture(width, height), _noise(width, height)
    return _save(first, "MPO", save_all=True, append_images=[second])


def cmyk_jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    """Return a CMYK JPEG."""
    return _save(_picture(width, height, "CMYK"), "JPEG")


def png_16bit_grey_bytes(width: int = 16, height: int = 16) -> bytes:
    """Return a 16-bit greyscale PNG at mid-grey (32768)."""
    image = Image.new("I;16", (width, height), 32768)
    return _save(image, "PNG")


def _frame(width: int, height: int, index: int, mode: str) -> Image.Image:
    """Return frame number index of a test animation: a bar moving right."""
    image = Image.new("RGB", (width, height), (0, 128, 0))
    left = (index * 8) % max(1, width)
    image.paste(RED, (left, 0, min(width, left + 8), height))
    return image.convert(mode)


def _xmp() -> bytes:
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b"<rdf:Description>" + UPLOADER_MARKER.encode() + SCRIPT_MARKER + b"</rdf:Description>"
        b"</rdf:RDF></x:xmpmeta>"
    )


# --- hostile files -----------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png_ihdr(width: int, height: int) -> bytes:
    # 8-bit greyscale, no interlace: one byte per pixel plus a filter byte per row.
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))


@functools.lru_cache(maxsize=4)
def png_decompression_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """Return a complete, valid PNG of width x height black pixels, a few hundred KB.

    The zlib stream is produced piecewise, so the pixels are never held in memory.
    """
    row = bytes(1 + width)  # filter byte 0 + black pixels
    rows_per_block = max(1, (1 << 20) // len(row))
    block = row * rows_per_block
    compressor = zlib.compressobj(9)
    parts = []
    remaining = height
    while remaining:
        count = min(rows_per_block, remaining)
        chunk = block if count == rows_per_block else row * count
        parts.append(compressor.compress(chunk))
        remaining -= count
    parts.append(compressor.flush())
    return _png_ihdr(width, height) + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b"")


def png_header_only_bomb(width: int = 12000, height: int = 12000) -> bytes:
    """Return a tiny PNG declaring width x height (144 megapixels by default).

    Its IDAT is a short zlib stream, so decoding would fail as truncated: a
    refusal that mentions pixels proves the size was checked before decoding.
    """
    return _png_ihdr(width, height) + _png_chunk(b"IDAT", zlib.compress(bytes(1 + width))) + _png_chunk(b"IEND", b"")


def png_zero_size() -> bytes:
    """Return a PNG whose header declares 0 x 0 pixels."""
    return _png_ihdr(0, 0) + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b"")


def gif_many_frames(frames: int) -> bytes:
    """Return a 1x1 GIF with the given number of frames."""
    images = [Image.new("L", (1, 1), index % 256) for index in range(frames)]
    return _save(images[0], "GIF", save_all=True, append_images=images[1:], optimize=False)


def svg_with_script() -> bytes:
    """Return an SVG document that runs a script."""
    return (
        b'<?xml version="1.0"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="red"/>' + SCRIPT_MARKER + b"</svg>"
    )


def html_renamed_as_jpg() -> bytes:
    """Return an HTML page (the test names it photo.jpg and declares image/jpeg)."""
    return b"<!DOCTYPE html>" + HTML_MARKER


def text_bytes() -> bytes:
    return b"just some plain text, not an image\n"


def pdf_bytes() -> bytes:
    """Return a minimal PDF."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def bmp_bytes() -> bytes:
    return _save(_picture(16, 16), "BMP")


def tiff_bytes() -> bytes:
    return _save(_picture(16, 16), "TIFF")


def truncated_jpeg() -> bytes:
    """Return the first half of a noisy JPEG (noise keeps the scan data long)."""
    data = _save(_noise(128, 128), "JPEG", quality=95)
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    """Return a noisy PNG cut off in the middle of its IDAT."""
    data = _save(_noise(128, 128), "PNG")
    return data[: len(data) // 2]


def gif_with_html_after_trailer() -> bytes:
    """Return a valid GIF followed by an HTML page after its trailer byte."""
    return gif_bytes() + HTML_MARKER


def jpeg_with_script_comment() -> bytes:
    """Return a JPEG whose COM segment holds a script."""
    return jpeg_bytes(comment=SCRIPT_MARKER)


def png_with_text_chunk_script() -> bytes:
    """Return a PNG with a script in tEXt and in an iTXt XMP chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SCRIPT_MARKER.decode())
    info.add_itxt("XML:com.adobe.xmp", _xmp().decode())
    return _save(_picture(64, 48, "RGBA"), "PNG", pnginfo=info)


def oversize_bytes(n: int) -> bytes:
    """Return a valid JPEG padded with zeros to n bytes (if n exceeds its size)."""
    data = jpeg_bytes()
    return data + bytes(max(0, n - len(data)))
