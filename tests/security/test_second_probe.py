"""The second outside probe (issue 20), replayed over HTTP against a live gunicorn.

One server on a private SQLite database and the local-memory cache (the
embedded defaults) serves the whole module; each test works on its own user.
"""

import bcrypt
import pytest
import requests

from tests.system.servers import AppServer

from . import forge, live

TIMEOUT = 30


LOCK_AFTER = 3
USER_PASSWORD = "probe user password, not a real one"
CMS_PASSWORD = "probe cms password, not a real one"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = live.private_env(
        tmp_path_factory.mktemp("probe"),
        **live.GENEROUS_LIMITS,
        LOGIN_ACCOUNT_FAILURES=str(LOCK_AFTER),
        ADMIN_PASSWORD_HASH=bcrypt.hashpw(CMS_PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
    )
    live.prepare_database(env)
    app = AppServer(env)
    app.env = env
    yield app
    app.stop()


def new_user(server, username, *, staff=True):
    """Add a user with USER_PASSWORD to the live server's database, from another process."""
    live.manage(
        server.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={USER_PASSWORD!r}, is_staff={staff!r})",
    )


def token_login(server, username, password=USER_PASSWORD):
    return requests.post(
        f"{server.url}/api/auth/token", json={"username": username, "password": password}, timeout=TIMEOUT
    )


def deeply_nested_token(depth=1000):
    """Return a token whose header is JSON nested `depth` levels deep (json.loads gives up with RecursionError)."""
    header = '{"a":' * depth + "1" + "}" * depth
    token = f"{forge.b64url(header)}.{forge.segment({'sub': 'x', 'exp': 2**31})}.{forge.b64url(b'signature')}"
    forge.register(token)
    return token


def csrf_pair():
    # Django accepts any 32-character alphanumeric secret as a csrftoken cookie.
    secret = "a" * 32
    return {"csrftoken": secret}, {"X-CSRFToken": secret}


def token_requests(server, token):
    """Return (name, send) for every route that reads a token, sending `token` where that route reads it."""
    from adbot_admin.api.refresh_cookie import REFRESH_COOKIE

    cookies, headers = csrf_pair()
    bearer = {"Authorization": f"Bearer {token}"}
    url = server.url
    return [
        ("me", lambda: requests.get(f"{url}/api/auth/me", headers=bearer, timeout=TIMEOUT)),
        ("admin route", lambda: requests.get(f"{url}/api/admin/audit", headers=bearer, timeout=TIMEOUT)),
        ("logout", lambda: requests.post(f"{url}/api/auth/logout", headers=bearer, timeout=TIMEOUT)),
        ("verify", lambda: requests.post(f"{url}/api/auth/token/verify", json={"token": token}, timeout=TIMEOUT)),
        ("refresh", lambda: requests.post(f"{url}/api/auth/token/refresh", json={"refresh": token}, timeout=TIMEOUT)),
        (
            "cookie refresh",
            lambda: requests.post(
                f"{url}/api/auth/cookie/refresh",
                cookies={**cookies, REFRESH_COOKIE: token},
                headers=headers,
                timeout=TIMEOUT,
            ),
        ),
    ]


def test_a_deeply_nested_token_is_401_everywhere_and_logs_one_line_per_request(server):
    token = deeply_nested_token()
    before = server.output()
    sent = 0
    for _ in range(10):
        for name, send in token_requests(server, token):
            response = send()
            sent += 1
            assert response.status_code == 401, (name, response.status_code, response.text[:200])
            assert response.json() == {"detail": "Token is invalid", "code": "token_not_valid"}, name
    grown = server.output()[len(before) :]
    assert "Traceback" not in grown
    assert len(grown.splitlines()) <= sent, grown[:2000]
    # The access log's line per request, no more: about 200 bytes each, not 4 KB of traceback.
    assert len(grown.encode()) < sent * 400


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respellings(token):
    """Return other spellings of `token`'s signature that decode to the same bytes.

    An HS256 signature is 32 bytes, 43 base64url characters: the last one carries
    two unused low bits. A trailing `=` is padding PyJWT accepts.
    """
    head, signature = token.rsplit(".", 1)
    index = B64URL.index(signature[-1])
    spellings = [f"{head}.{signature[:-1]}{B64URL[(index & ~3) | low]}" for low in range(4)]
    spellings.append(f"{token}=")
    return [spelling for spelling in spellings if spelling != token]


def frontend_token(subject):
    import time

    import jwt
    from django.conf import settings

    token = jwt.encode(
        {"sub": subject, "email": f"{subject}@example.com", "role": "admin", "exp": int(time.time()) + 300},
        settings.JWT_SECRET,
        algorithm="HS256",
    )
    forge.register(token)
    return token


def me(server, token):
    return requests.get(f"{server.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)


@pytest.mark.parametrize("logout", ["logout", "logout-all"])
def test_a_revoked_frontend_token_stays_revoked_however_it_is_spelled(server, logout):
    token = frontend_token(f"respelled-{logout}")
    spellings = respellings(token)
    assert len(spellings) == 4
    # Every spelling is the same token to the server: each is accepted before the logout.
    assert all(me(server, spelling).status_code == 200 for spelling in spellings)

    response = requests.post(
        f"{server.url}/api/auth/{logout}", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    assert response.status_code == 204

    for spelling in [token, *spellings]:
        response = me(server, spelling)
        assert response.status_code == 401, spelling[-3:]
        assert response.json()["code"] == "token_not_valid"


def test_unlock_user_from_another_process_unlocks_the_running_server(server):
    new_user(server, "locked-out")
    for _ in range(LOCK_AFTER):
        assert token_login(server, "locked-out", "wrong password").status_code == 401
    locked = token_login(server, "locked-out")
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"

    assert "locked-out" in live.manage(server.env, "unlock_user", "locked-out")

    assert token_login(server, "locked-out").status_code == 200


def test_wrong_passwords_to_2fa_setup_count_toward_the_lockout(server):
    new_user(server, "stolen-token")
    access = token_login(server, "stolen-token").json()["access"]
    for _ in range(LOCK_AFTER):
        response = requests.post(
            f"{server.url}/api/auth/2fa/setup",
            json={"password": "a guess"},
            headers={"Authorization": f"Bearer {access}"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 401
    assert token_login(server, "stolen-token").status_code == 429
    live.manage(server.env, "unlock_user", "stolen-token")


def admin_site_login(server, username, password=USER_PASSWORD):
    """Log `username` in to the admin site; return its cookies (sent by hand: they are Secure, the server is http)."""
    form = requests.get(f"{server.url}/admin/login/", timeout=TIMEOUT)
    cookies = dict(form.cookies)
    csrf = cookies["csrftoken"]
    response = requests.post(
        f"{server.url}/admin/login/?next=/admin/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
        cookies=cookies,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 302, response.text[:300]
    return {**cookies, **dict(response.cookies)}


def admin_site_open(server, cookies):
    response = requests.get(f"{server.url}/admin/", cookies=cookies, allow_redirects=False, timeout=TIMEOUT)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def end_by_self(server, username):
    access = token_login(server, username).json()["access"]
    response = requests.post(
        f"{server.url}/api/auth/logout-all", headers={"Authorization": f"Bearer {access}"}, timeout=TIMEOUT
    )
    assert response.status_code == 204


def end_by_admin(server, username):
    access = live.login(server)["access"]
    response = requests.post(
        f"{server.url}/api/admin/users/{username}/logout-all",
        headers={"Authorization": f"Bearer {access}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 204


def end_from_the_shell(server, username):
    live.manage(server.env, "logout_user", username)


def end_by_a_new_password(server, username):
    live.manage(
        server.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"user = get_user_model().objects.get(username={username!r}); "
        f"user.set_password({USER_PASSWORD!r}); user.save()",
    )


@pytest.mark.parametrize("end", [end_by_self, end_by_admin, end_from_the_shell, end_by_a_new_password])
def test_ending_every_session_ends_the_admin_site_sessions_too(server, end):
    username = f"site-{end.__name__}".replace("_", "-")
    new_user(server, username)
    cookies = admin_site_login(server, username)
    assert admin_site_open(server, cookies)

    end(server, username)

    assert not admin_site_open(server, cookies)
    # A new login opens the site again.
    assert admin_site_open(server, admin_site_login(server, username))


def assert_not_stored(response):
    assert response.status_code in (200, 201), response.text[:300]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    return response.json()


def test_every_response_with_a_credential_says_no_store(server):
    from adbot_admin.api.refresh_cookie import REFRESH_COOKIE
    from adbot_admin.tests.mfa import code_at

    url = server.url
    new_user(server, "no-store")
    pair = assert_not_stored(token_login(server, "no-store"))
    pair = assert_not_stored(requests.post(f"{url}/api/auth/token/refresh", json={"refresh": pair["refresh"]}))
    bearer = {"Authorization": f"Bearer {pair['access']}"}
    secret = assert_not_stored(
        requests.post(f"{url}/api/auth/2fa/setup", json={"password": USER_PASSWORD}, headers=bearer)
    )["secret"]
    assert_not_stored(requests.post(f"{url}/api/auth/2fa/confirm", json={"code": code_at(secret)}, headers=bearer))
    challenge = token_login(server, "no-store").json()
    assert_not_stored(
        requests.post(
            f"{url}/api/auth/token/2fa", json={"mfa_token": challenge["mfa_token"], "code": code_at(secret, 1)}
        )
    )

    cms = requests.post(f"{url}/api/cms/login", json={"password": CMS_PASSWORD, "session": "cookie"})
    assert_not_stored(cms)
    # The cookie's prefix holds only with Secure, Path=/ and no Domain (api/refresh_cookie.py says why).
    set_cookie = cms.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{REFRESH_COOKIE}=") and REFRESH_COOKIE == "__Host-adbot_refresh"
    assert "Secure" in set_cookie and "Path=/;" in set_cookie and "Domain" not in set_cookie
    cookies, headers = csrf_pair()
    cookies[REFRESH_COOKIE] = cms.cookies[REFRESH_COOKIE]
    assert_not_stored(requests.post(f"{url}/api/auth/cookie/refresh", cookies=cookies, headers=headers))

    admin = {"Authorization": f"Bearer {live.login(server)['access']}"}
    api_pair = requests.post(
        f"{url}/api/admin/api-pairs", json={"api_id": 424242, "api_hash": "0123456789abcdef" * 2}, headers=admin
    ).json()
    revealed = assert_not_stored(requests.get(f"{url}/api/admin/api-pairs/{api_pair['id']}", headers=admin))
    assert revealed["api_hash"] == "0123456789abcdef" * 2


def test_refusals_by_the_ip_allowlist_add_a_bounded_number_of_audit_rows(tmp_path):
    cap = 20
    env = live.private_env(
        tmp_path, ADMIN_ALLOWED_IPS="10.0.0.0/8", TRUSTED_PROXY_COUNT="1", IP_REFUSED_AUDIT_PER_MINUTE=str(cap)
    )
    live.prepare_database(env)
    app = AppServer(env)
    try:
        addresses = [f"198.51.{n // 250}.{n % 250 + 1}" for n in range(200)]
        addresses += [f"2001:db8:0:7::{n:x}" for n in range(1, 51)]  # one /64
        for address in addresses:
            response = requests.get(f"{app.url}/api/admin/audit", headers={"X-Forwarded-For": address}, timeout=30)
            assert response.status_code == 403 and response.json()["code"] == "ip_not_allowed"
    finally:
        app.stop()
    count = "from adbot_admin.models import AuditEvent; print(AuditEvent.objects.filter(action='ip_refused').count())"
    rows = int(live.manage(env, "shell", "-c", count).split()[-1])
    # 250 requests were 200 addresses and one /64; the minute may turn once while they run.
    assert cap <= rows <= 2 * cap


def test_a_wrong_password_is_one_code_at_every_login_endpoint(server):
    new_user(server, "one-answer")
    access = token_login(server, "one-answer").json()["access"]
    bearer = {"Authorization": f"Bearer {access}"}
    answers = [
        token_login(server, "one-answer", "wrong password"),
        token_login(server, "no-such-user", "wrong password"),
        requests.post(f"{server.url}/api/cms/login", json={"password": "wrong password"}, timeout=TIMEOUT),
        requests.post(f"{server.url}/api/auth/2fa/setup", json={"password": "wrong"}, headers=bearer, timeout=TIMEOUT),
        # 2fa/disable asks for a recent login instead (step-up); re-authenticating is the password check.
        requests.post(
            f"{server.url}/api/auth/reauthenticate", json={"password": "wrong"}, headers=bearer, timeout=TIMEOUT
        ),
    ]
    assert [answer.status_code for answer in answers] == [401] * len(answers)
    assert {answer.content for answer in answers} == {
        b'{"detail":"The credentials are wrong.","code":"invalid_credentials"}'
    }


def test_every_404_and_405_is_the_apis_json_body_byte_for_byte(server):
    url = server.url
    bearer = {"Authorization": f"Bearer {live.login(server)['access']}"}
    api_404 = requests.delete(f"{url}/api/auth/sessions/{'0' * 32}", headers=bearer, timeout=TIMEOUT)
    assert api_404.status_code == 404
    cookies = admin_site_login(server, live.ADMIN_USERNAME, live.ADMIN_PASSWORD)
    for path in ("/nope", "/api/nope", "/admin/nope/", "/static/nope.js", "/media/nope.png", "/cms/nope"):
        response = requests.get(f"{url}{path}", cookies=cookies, allow_redirects=False, timeout=TIMEOUT)
        assert (response.status_code, response.content) == (404, api_404.content), path
        assert response.headers["Content-Type"] == api_404.headers["Content-Type"], path

    # A 405's detail names the method: each plain view is compared with an API route refusing the same one.
    csrf = {"X-CSRFToken": cookies["csrftoken"]}
    cases = [
        ("post", "/cms/", requests.post(f"{url}/api/health", timeout=TIMEOUT)),
        ("get", "/admin/logout/", requests.get(f"{url}/api/auth/logout", headers=bearer, timeout=TIMEOUT)),
    ]
    for method, path, api_405 in cases:
        assert api_405.status_code == 405
        response = requests.request(
            method, f"{url}{path}", cookies=cookies, headers=csrf, allow_redirects=False, timeout=TIMEOUT
        )
        assert (response.status_code, response.content) == (405, api_405.content), path
        assert response.headers["Content-Type"] == api_405.headers["Content-Type"], path
        assert response.headers.get("Allow"), path


def test_the_root_and_admin_without_a_slash_redirect(server):
    root = requests.get(f"{server.url}/", allow_redirects=False, timeout=TIMEOUT)
    assert root.status_code == 302 and root.headers["Location"] == "/api/docs"
    admin = requests.get(f"{server.url}/admin", allow_redirects=False, timeout=TIMEOUT)
    assert admin.status_code == 301 and admin.headers["Location"] == "/admin/"
    # The admin site's "View site" link is `/`: it ends on the docs page, not on a 404.
    assert requests.get(f"{server.url}/", timeout=TIMEOUT).status_code == 200
