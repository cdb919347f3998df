"""Responses that carry a credential (a token, a TOTP secret, recovery codes, a whole API hash) are never stored."""

import functools

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def no_store(view_method):
    """Decorate a view method so its response says no cache (browser or proxy) may keep it (RFC 9111, 5.2.2.5).

    `Pragma: no-cache` is for HTTP/1.0 caches, which ignore Cache-Control.
    """

    @functools.wraps(view_method)
    def wrapped(*args, **kwargs):
        response = view_method(*args, **kwargs)
        for name, value in NO_STORE.items():
            response[name] = value
        return response

    return wrapped
