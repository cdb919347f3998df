"""Log hygiene: secrets never reach a log record, and tokens never reach the access log."""

import logging

import requests

from . import forge, live, log_hygiene


def test_the_session_collector_sees_every_record():
    logging.getLogger("adbot_admin.anything").debug("log hygiene marker %s", "7f3c")
    assert log_hygiene.HANDLER in logging.getLogger().handlers
    assert log_hygiene.HANDLER.records[-1] == "adbot_admin.anything: log hygiene marker 7f3c"


def test_server_issued_tokens_are_registered(admin_api_client):
    access = admin_api_client.tokens["access"]
    assert access.split(".")[2] in log_hygiene.REGISTRY.signatures


def test_a_logged_secret_would_fail_the_run():
    """The final check can fail: a private registry and handler catch a token and a password."""
    registry, handler = log_hygiene.SecretRegistry(), log_hygiene.CollectingHandler()
    logger = logging.getLogger("log-hygiene-selftest")
    logger.propagate = False  # keep the session's own records clean
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        token = forge.backend_token({"sub": "x", "exp": 1})
        registry.register(token)
        registry.register("hunter2-correct-horse")
        registry.register_auth_key(bytes(range(256)))
        logger.info("harmless line")
        assert registry.leaks(handler.records) == []
        logger.info("Authorization: Bearer %s", token)
        logger.warning("password was %r", "hunter2-correct-horse")
        logger.debug("key %s", bytes(range(256)).hex())
        try:
            raise ValueError(f"bad token {token.split('.')[2]}")
        except ValueError:
            logger.exception("failed")
        assert sorted(index for index, _ in registry.leaks(handler.records)) == [1, 2, 3]
        assert registry.leaks(handler.records[4:]) != []  # the traceback alone names the signature
        assert all(token not in masked for _, masked in registry.leaks(handler.records))
    finally:
        logger.removeHandler(handler)


def test_tokens_never_reach_the_access_log(tmp_path):
    server = live.start(tmp_path)
    try:
        access = live.login(server)["access"]
        for parameter in ("access_token", "token"):
            response = requests.get(f"{server.url}/api/auth/me?{parameter}={access}", timeout=5)
            assert response.status_code == 401
        response = requests.get(f"{server.url}/api/auth/me", headers={"Authorization": f"Bearer {access}"}, timeout=5)
        assert response.status_code == 200
        output = server.output()
    finally:
        server.stop()
    assert '"GET /api/auth/me HTTP/1.1" 401' in output  # the request line is there, its query is not
    assert access not in output
    assert access.split(".")[2] not in output
    assert live.ADMIN_PASSWORD not in output
    assert log_hygiene.leaks_in(output) == []
