"""Every login stamps `auth_time` on its tokens, and a refresh carries it unchanged (step-up reads it)."""

import time

import jwt
import pytest
from django.test import Client

from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from adbot_admin.tokens import AccessToken
from conftest import bearer_client

pytestmark = pytest.mark.django_db


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def refresh(token):
    response = Client().post("/api/auth/token/refresh", {"refresh": token}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_login_stamps_auth_time_on_both_tokens():
    UserFactory(username="erin", is_staff=True)
    response = Client().post(
        "/api/auth/token", {"username": "erin", "password": TEST_PASSWORD}, content_type="application/json"
    )
    tokens = response.json()
    stamped = claims(tokens["access"])["auth_time"]
    assert claims(tokens["refresh"])["auth_time"] == stamped
    assert abs(stamped - time.time()) < 10
    assert claims(refresh(tokens["refresh"])["access"])["auth_time"] == stamped


def test_a_refresh_never_renews_auth_time():
    an_hour_ago = int(time.time()) - 3600
    client = bearer_client(UserFactory(username="erin", is_staff=True), auth_time=an_hour_ago)
    pair = refresh(client.tokens["refresh"])
    assert claims(pair["access"])["auth_time"] == an_hour_ago
    assert claims(refresh(pair["refresh"])["access"])["auth_time"] == an_hour_ago


@pytest.mark.parametrize("value", ["1700000000", [1], True, -1, 10**13])
def test_a_token_whose_auth_time_is_not_a_time_is_refused(value):
    access = AccessToken(bearer_client(UserFactory(username="erin", is_staff=True)).tokens["access"])
    access["auth_time"] = value
    assert Client().get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
