"""Zip archives for the import tests: exact names, raw names, and the overlapping entries of a zip bomb."""

import io
import os
import struct
import zipfile
import zlib


def make_zip(entries, *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """Return a zip of `entries`: (name or ZipInfo, bytes) pairs, names kept exactly as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries:
            info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, content)
    return buffer.getvalue()


def with_raw_name(archive: bytes, placeholder: str, raw: bytes) -> bytes:
    """Return `archive` with the name `placeholder` spelled `raw` (same length) in every header."""
    assert len(placeholder.encode()) == len(raw)
    return archive.replace(placeholder.encode(), raw)


def bomb_kernel(size: int) -> bytes:
    """Return `size` bytes that deflate about 90:1: under the old per-entry limit of 100:1."""
    block = bytes(9_900)
    return b"".join(os.urandom(100) + block for _ in range(size // 10_000 + 1))[:size]


def overlapping_zip(names, kernel: bytes) -> bytes:
    """Return a zip whose entries share one deflated kernel (D. Fifield, "A better zip bomb", 2019).

    Each entry's data is a stored deflate block quoting the next entry's local
    header, then the shared kernel; zipfile reads every entry back whole, with
    a valid CRC, so the archive inflates to len(names) times the kernel.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel_deflated = compressor.compress(kernel) + compressor.flush()
    count = len(names)
    local = struct.Struct("<4s2B4HL2L2H")
    central = struct.Struct("<4s4B4HL2L5H2L")
    # Work backwards: entry i inflates to the local header of entry i+1 followed by entry i+1's output.
    headers, outputs, sizes = [None] * count, [None] * count, [None] * count
    output, compressed = kernel, len(kernel_deflated)
    for i in range(count - 1, -1, -1):
        crc = zlib.crc32(output)
        header = local.pack(b"PK\x03\x04", 20, 0, 0, 8, 0, 0x21, crc, compressed, len(output), len(names[i]), 0)
        headers[i], outputs[i], sizes[i] = header + names[i].encode(), output, compressed
        quote = headers[i]
        output = quote + output
        compressed += 5 + len(quote)
    body, offsets = bytearray(), []
    for i in range(count):
        offsets.append(len(body))
        body += headers[i]
        if i + 1 < count:
            quoted = headers[i + 1]
            body += b"\x00" + struct.pack("<HH", len(quoted), len(quoted) ^ 0xFFFF)
    body += kernel_deflated
    directory = bytearray()
    for i in range(count):
        crc = zlib.crc32(outputs[i])
        directory += central.pack(
            b"PK\x01\x02",
            20,
            3,
            20,
            0,
            0,
            8,
            0,
            0x21,
            crc,
            sizes[i],
            len(outputs[i]),
            len(names[i]),
            0,
            0,
            0,
            0,
            0o100644 << 16,
            offsets[i],
        )
        directory += names[i].encode()
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)
