"""JSON answers rendered by orjson, byte for byte what DRF's JSONRenderer writes."""

import orjson
from rest_framework.renderers import JSONRenderer

# DRF escapes these two (valid JSON, but line ends in older JavaScript); orjson writes them raw.
LINE_SEPARATOR = "\u2028".encode()
PARAGRAPH_SEPARATOR = "\u2029".encode()
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class OrjsonRenderer(JSONRenderer):
    """DRF's compact, strict, UTF-8 JSON, written by orjson.

    Serializer fields hand over strings, numbers, booleans, lists and dicts;
    anything else (a datetime, a Decimal, a lazy string) goes through DRF's
    own encoder, so `Z` for UTC and the other DRF spellings stay. What orjson
    cannot write, DRF writes: an indented answer (`; indent=`), an integer past
    64 bits. Two spellings differ, neither of them in an answer of this API (it
    has no float fields): a float's small exponent (`1e-7` for `1e-07`), and a
    NaN or infinity, written `null` where DRF's strict mode fails the request.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=self.encoder_class().default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80" in body:
            body = body.replace(LINE_SEPARATOR, b"\\u2028").replace(PARAGRAPH_SEPARATOR, b"\\u2029")
        return body
