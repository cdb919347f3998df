"""Passkeys on the admin site: "Sign in with a passkey" on its login page, and a page to register them.

Plain Django views behind the admin site's session and Django's CSRF check
(the pages' scripts send X-CSRFToken); the WebAuthn work is the same as the
API's (passkeys.py, signin.py). Refusals answer the API's JSON error body.
"""

import functools
import json

from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from . import budgets, passkeys, signin
from .http_errors import api_exception_response

NAME_MAX = 64
USERNAME_MAX = 150


def _json_errors(view):
    """Answer a refusal (an APIException) of `view` with the API's JSON error body and Retry-After."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except APIException as exc:
            return api_exception_response(exc)

    return wrapped


def _body(request):
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("Send a JSON object.") from exc
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object.")
    return body


def _credential(body):
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise ValidationError({"credential": ["Send the credential as a JSON object."]})
    return credential


@require_POST
@_json_errors
def passkey_login_begin(request, site):
    """Return the request options of a passkey sign-in to the admin site.

    With a `username`, that account's passkeys; without, any this browser holds for the site.
    """
    budgets.spend_once(request, budgets.PASSKEY)
    username = _body(request).get("username")
    user = None
    if isinstance(username, str) and 0 < len(username) <= USERNAME_MAX:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
    return JsonResponse(passkeys.passkey_authentication_begin(user=user))


@require_POST
@_json_errors
def passkey_login_complete(request, site):
    """Log the admin site in with a passkey assertion; answer where to go next."""
    signin.login_to_admin_site_with_passkey(credential=_credential(_body(request)), request=request)
    return JsonResponse({"redirect": reverse("admin:index", current_app=site.name)})


def passkeys_page(request, site):
    """The admin's own passkeys, with "Add a passkey"."""
    context = {
        **site.each_context(request),
        "title": "Your passkeys",
        "passkeys": request.user.passkeys.all(),
        "name_max": NAME_MAX,
    }
    return render(request, "adbot_admin/admin/passkeys.html", context)


@require_POST
@_json_errors
def passkey_register_begin(request, site):
    _body(request)
    return JsonResponse(passkeys.passkey_registration_begin(user=request.user))


@require_POST
@_json_errors
def passkey_register_complete(request, site):
    body = _body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise ValidationError({"name": [f"Name the passkey in 1 to {NAME_MAX} characters."]})
    passkey = passkeys.passkey_registration_complete(
        user=request.user, credential=_credential(body), name=name.strip(), request=request
    )
    return JsonResponse({"id": passkey.pk, "name": passkey.name}, status=status.HTTP_201_CREATED)
