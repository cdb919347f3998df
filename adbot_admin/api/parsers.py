"""The JSON parser of every API view: DRF's, refusing bodies nested deeper than any request of this API.

Python's json module decodes nesting by recursion: about 1,000 levels (2 KB of
`[`) raise RecursionError, which DRF's parser lets through as a 500 with a
traceback. Bodies here nest two or three levels, so anything past
MAX_JSON_DEPTH is refused as a parse error, whatever its depth, before any
other code walks it.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 32


def _nesting_exceeds(data, limit):
    """Return whether `data` holds arrays or objects nested more than `limit` levels (no recursion)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; raises ParseError (400 `parse_error`) for JSON nested past MAX_JSON_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if isinstance(data, (dict, list)) and _nesting_exceeds(data, MAX_JSON_DEPTH):
            raise too_deep
        return data
