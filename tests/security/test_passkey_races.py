"""One passkey challenge, answered many times at once against a live gunicorn: exactly one answer wins."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from adbot_admin.tests.webauthn import SoftAuthenticator

from . import live


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("passkey-races")
    server = live.start(directory, GUNICORN_THREADS="8", **live.GENEROUS_LIMITS)
    try:
        yield server
    finally:
        server.stop()


def test_concurrent_answers_to_one_challenge_have_exactly_one_winner(server):
    access = live.login(server)["access"]
    bearer = {"Authorization": f"Bearer {access}"}
    authenticator = SoftAuthenticator()
    options = requests.post(f"{server.url}/api/auth/passkeys/register/begin", json={}, headers=bearer, timeout=30)
    registered = requests.post(
        f"{server.url}/api/auth/passkeys/register/complete",
        json={"credential": authenticator.register(options.json()), "name": "racer"},
        headers=bearer,
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    challenge = requests.post(f"{server.url}/api/auth/passkey/begin", json={}, timeout=30).json()
    # Eight properly signed answers to one challenge, each with a higher sign count.
    assertions = [authenticator.assertion(challenge) for _ in range(8)]

    def attempt(assertion):
        return requests.post(f"{server.url}/api/auth/passkey/complete", json={"credential": assertion}, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, assertions))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 7, [response.text for response in responses]
    assert "Traceback" not in server.output()
