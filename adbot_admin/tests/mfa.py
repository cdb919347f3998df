"""Two-factor helpers for tests: codes computed from the secret the API returned, with django-otp's own TOTP."""

import base64
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.oath import TOTP

from adbot_admin.tests.factories import TEST_PASSWORD

SETUP = "/api/auth/2fa/setup"
CONFIRM = "/api/auth/2fa/confirm"
DISABLE = "/api/auth/2fa/disable"
TOKEN = "/api/auth/token"
TOKEN_2FA = "/api/auth/token/2fa"
STEP = 30


def code_at(secret, steps=0):
    """Return the 6-digit code an authenticator app shows for `secret` (base32), `steps` x 30 s from now."""
    totp = TOTP(base64.b32decode(secret))
    totp.time = time.time() + steps * STEP
    return f"{totp.token():06d}"


def enrol_spending(client):
    """Turn two-factor on through the API; return (secret, recovery codes, the code that confirmed it)."""
    secret = client.post(SETUP, {"password": TEST_PASSWORD}, format="json").json()["secret"]
    code = code_at(secret)
    response = client.post(CONFIRM, {"code": code}, format="json")
    assert response.status_code == 200, response.content
    return secret, response.json()["recovery_codes"], code


def enrol(client):
    """Turn two-factor on through the API; return (secret, recovery codes)."""
    return enrol_spending(client)[:2]


def password_step(client, username):
    response = client.post(TOKEN, {"username": username, "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def clock(monkeypatch):
    """Move Django's clock (timezone.now) forward without sleeping; TOTP codes keep following time.time()."""
    real_now = timezone.now
    offset = {"value": timedelta(0)}
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset["value"])

    def advance(seconds):
        offset["value"] += timedelta(seconds=seconds)

    return advance
