"""The DRF side of the rate-limit budgets (budgets.py): the one decorator that spends them, and their headers."""

import functools

from ..budgets import DELETE, EXPORT, LOGIN, PASSKEY, UPLOAD, held, policy_headers, spend_once

# The budgets views name, e.g. `rate_limited(ratelimits.UPLOAD)`.
__all__ = ["DELETE", "EXPORT", "LOGIN", "PASSKEY", "UPLOAD", "RateLimitHeadersMixin", "rate_limited"]


def rate_limited(budget):
    """Decorate a DRF view method so each call spends one unit of `budget`."""

    def decorator(view_method):
        @functools.wraps(view_method)
        def wrapped(self, request, *args, **kwargs):
            spend_once(request, budget)
            if budget.slotted is not None:
                # The body is read before a slot is taken: a client sending it slowly must not hold one.
                # (Uploads are not read here: their views refuse an oversized body before parsing it.)
                request.data  # noqa: B018  (a parse error is raised here, the budget already spent)
            with held(request, budget):
                return view_method(self, request, *args, **kwargs)

        # Read by the OpenAPI hook (schema.py), which documents 429 and 503 for it.
        wrapped.rate_limit_budget = budget
        return wrapped

    return decorator


class RateLimitHeadersMixin:
    """Adds the RateLimit headers to every response of a rate-limited view, refusals included."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        spent = getattr(request, "ratelimit_usage", None)
        if spent is not None:
            for name, value in policy_headers(*spent).items():
                response[name] = value
        return response
