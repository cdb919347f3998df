"""Login sessions: list your own, end one, end all; an admin or the shell ends another user's; a new password ends them.

Every ended session is proved ended the way a client sees it: its access
token gets 401 on the next request and its refresh token cannot be traded.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from adbot_admin.models import AuditEvent, LoginSession
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from adbot_admin.tests.tokens import bearer, frontend_token
from conftest import bearer_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roomy_login_budget")]

SESSIONS = "/api/auth/sessions"
LOGOUT_ALL = "/api/auth/logout-all"
ME = "/api/auth/me"
NEW_PASSWORD = "a quite different passphrase 42"


@pytest.fixture
def admin(db):
    return UserFactory(username="erin", is_staff=True, is_superuser=True)


def login(username="erin", password=TEST_PASSWORD, agent="pytest-agent/1.0", addr="203.0.113.7"):
    response = Client().post(
        "/api/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
        HTTP_USER_AGENT=agent,
        REMOTE_ADDR=addr,
    )
    assert response.status_code == 200, response.content
    return response.json()


def client_of(tokens):
    client = APIClient()
    client.credentials(**bearer(tokens["access"]))
    return client


def alive(tokens):
    """Return (access accepted, refresh accepted) for a login's tokens."""
    me = APIClient().get(ME, **bearer(tokens["access"])).status_code
    refresh = APIClient().post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json").status_code
    assert me in (200, 401) and refresh in (200, 401)
    return me == 200, refresh == 200


def test_the_list_shows_each_open_login_with_the_current_one_marked(admin):
    first = login(agent="firefox", addr="203.0.113.1")
    second = login(agent="curl", addr="203.0.113.2")

    response = client_of(second).get(SESSIONS)

    assert response.status_code == 200
    rows = response.json()
    assert [row["user_agent"] for row in rows] == ["curl", "firefox"]  # newest first
    assert set(rows[0]) == {"id", "created_at", "last_used_at", "ip", "user_agent", "auth_method", "current"}
    assert [(row["ip"], row["auth_method"], row["current"]) for row in rows] == [
        ("203.0.113.2", "password", True),
        ("203.0.113.1", "password", False),
    ]
    assert client_of(first).get(SESSIONS).json()[1]["current"] is True


def test_the_list_leaves_out_ended_sessions_and_other_users(admin):
    other = UserFactory(username="frank", is_staff=True)
    mine = login()
    ended = login()
    assert client_of(ended).post("/api/auth/logout", {}, format="json").status_code == 204
    login("frank")

    rows = client_of(mine).get(SESSIONS).json()

    assert [row["current"] for row in rows] == [True]
    assert LoginSession.objects.filter(user=other).count() == 1


def test_ending_one_session_refuses_its_tokens_and_leaves_the_others(admin):
    keep = login(agent="keep")
    end = login(agent="end")
    target = next(row["id"] for row in client_of(keep).get(SESSIONS).json() if row["user_agent"] == "end")

    response = client_of(keep).delete(f"{SESSIONS}/{target}")

    assert response.status_code == 204
    assert alive(end) == (False, False)
    assert alive(keep) == (True, True)
    assert [row["user_agent"] for row in client_of(keep).get(SESSIONS).json()] == ["keep"]
    event = AuditEvent.objects.get(action="login_session_end")
    assert (event.actor, event.target, event.outcome) == ("erin", target, "success")


def test_ending_the_current_session_refuses_the_token_that_asked(admin):
    tokens = login()
    current = client_of(tokens).get(SESSIONS).json()[0]["id"]
    assert client_of(tokens).delete(f"{SESSIONS}/{current}").status_code == 204
    assert alive(tokens) == (False, False)


@pytest.mark.parametrize("whose", ["another user's", "an ended", "an unknown", "a malformed"])
def test_a_session_that_is_not_your_open_one_is_404(admin, whose):
    UserFactory(username="frank", is_staff=True)
    mine = login()
    if whose == "another user's":
        theirs = login("frank")
        target = client_of(theirs).get(SESSIONS).json()[0]["id"]
    elif whose == "an ended":
        gone = login()
        target = client_of(gone).get(SESSIONS).json()[0]["id"]
        client_of(gone).post("/api/auth/logout", {}, format="json")
    elif whose == "an unknown":
        target = "0123456789abcdef0123456789abcdef"
    else:
        target = "0123456789abcdef0123456789abcdeg"[:31] + "-----"

    response = client_of(mine).delete(f"{SESSIONS}/{target}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    if whose == "another user's":
        assert alive(theirs) == (True, True)
    assert not AuditEvent.objects.filter(action="login_session_end").exists()


def test_logout_all_ends_every_session_of_the_caller_the_current_one_included(admin):
    other_user = UserFactory(username="frank", is_staff=True)
    logins = [login() for _ in range(3)]
    theirs = login("frank")

    response = client_of(logins[0]).post(LOGOUT_ALL)

    assert response.status_code == 204
    assert [alive(tokens) for tokens in logins] == [(False, False)] * 3
    assert alive(theirs) == (True, True)
    event = AuditEvent.objects.get(action="logout_all")
    assert (event.actor, event.target, event.detail) == ("erin", "erin", {"sessions_ended": 3})
    assert LoginSession.objects.filter(user=other_user, ended_at__isnull=True).count() == 1


def test_logout_all_with_a_token_from_before_sessions_refuses_it_and_every_refresh_token(admin):
    # A token without `sid` belongs to no session: it is in no list, but logout-all still ends it.
    legacy = bearer_client(admin)
    session = login()
    assert [row["current"] for row in legacy.get(SESSIONS).json()] == [False]

    assert legacy.post(LOGOUT_ALL).status_code == 204

    assert legacy.get(ME).status_code == 401
    assert alive(legacy.tokens) == (False, False)
    assert alive(session) == (False, False)


def test_a_frontend_token_has_no_sessions_and_logout_all_refuses_it(settings):
    settings.JWT_SECRET = "frontend-secret-for-tests-0123456789abcdef"
    token = frontend_token()
    client = APIClient()
    client.credentials(**bearer(token))

    assert client.get(SESSIONS).json() == []
    assert client.delete(f"{SESSIONS}/0123456789abcdef0123456789abcdef").status_code == 404
    assert client.post(LOGOUT_ALL).status_code == 204
    assert client.get(ME).status_code == 401


def test_a_cms_token_sees_and_ends_only_its_own_login(api_client, cms_password):
    def cms_login():
        body = api_client.post("/api/cms/login", {"password": cms_password}, format="json").json()
        client = APIClient()
        client.credentials(**bearer(body["access_token"]))
        return client

    first, second = cms_login(), cms_login()

    rows = second.get(SESSIONS).json()
    assert [(row["auth_method"], row["current"]) for row in rows] == [("cms_password", True)]
    # The other CMS login's session is not its own: the account is shared.
    other = first.get(SESSIONS).json()[0]["id"]
    assert second.delete(f"{SESSIONS}/{other}").status_code == 404

    assert second.post(LOGOUT_ALL).status_code == 204
    assert second.get(ME).status_code == 401
    assert first.get(ME).status_code == 200


def test_an_admin_ends_every_session_of_another_user(admin):
    UserFactory(username="frank", is_staff=True)
    theirs = [login("frank"), login("frank")]
    mine = login()

    response = client_of(mine).post("/api/admin/users/frank/logout-all")

    assert response.status_code == 204
    assert [alive(tokens) for tokens in theirs] == [(False, False)] * 2
    assert alive(mine) == (True, True)
    event = AuditEvent.objects.get(action="user_logout_all")
    assert (event.actor, event.auth_method, event.target) == ("erin", "backend_token", "frank")
    assert event.detail == {"reason": "ended_by_admin", "sessions_ended": 2}


def test_an_admin_ending_an_unknown_user_gets_404(admin):
    response = client_of(login()).post("/api/admin/users/nobody-here/logout-all")
    assert response.status_code == 404
    assert response.json() == {"detail": "No user with this username.", "code": "not_found"}
    assert not AuditEvent.objects.filter(action="user_logout_all").exists()


def test_manage_py_logout_user_ends_every_session(admin):
    UserFactory(username="frank", is_staff=True)
    theirs = login("frank")
    out = StringIO()

    call_command("logout_user", "frank", stdout=out)

    assert out.getvalue().strip() == "Ended 1 login session(s) of frank."
    assert alive(theirs) == (False, False)
    event = AuditEvent.objects.get(action="user_logout_all")
    assert (event.auth_method, event.target, event.detail["reason"]) == ("shell", "frank", "ended_from_shell")


def test_manage_py_logout_user_names_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("logout_user", "ghost", stdout=StringIO())


def test_a_password_changed_in_the_admin_site_ends_every_session(admin):
    UserFactory(username="frank", is_staff=True)
    theirs = login("frank")
    legacy = bearer_client(get_user_model().objects.get(username="frank"))
    site = Client()
    site.force_login(admin)
    frank = get_user_model().objects.get(username="frank")

    response = site.post(
        f"/admin/adbot_admin/user/{frank.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content[:2000]
    assert alive(theirs) == (False, False)
    assert alive(legacy.tokens)[1] is False  # the refresh token from before sessions, too
    assert login("frank", NEW_PASSWORD)
    event = AuditEvent.objects.get(action="user_logout_all")
    assert (event.target, event.detail) == ("frank", {"reason": "password_change", "sessions_ended": 1})


def test_manage_py_changepassword_ends_every_session(admin, monkeypatch):
    tokens = login()
    answers = iter([NEW_PASSWORD, NEW_PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    call_command("changepassword", "erin", stdout=StringIO())

    assert alive(tokens) == (False, False)
    assert login(password=NEW_PASSWORD)


def test_saving_a_user_without_a_new_password_ends_nothing(admin):
    # A hash from an older hasher: the next login rehashes it, which is no password change.
    admin.password = make_password(TEST_PASSWORD, hasher="pbkdf2_sha256")
    admin.save(update_fields=["password"])
    tokens = login()
    admin.refresh_from_db()
    assert admin.password.startswith("bcrypt")
    admin.first_name = "Erin"
    admin.save()

    assert alive(tokens) == (True, True)
    assert not AuditEvent.objects.filter(action="user_logout_all").exists()
