"""Sizes as people read them, for error messages."""


def describe_bytes(count: int) -> str:
    """Return `count` bytes as a short human size, e.g. "10 MiB", "1.5 KiB" or "300 bytes"."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= factor:
            value = count / factor
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{count} bytes"
