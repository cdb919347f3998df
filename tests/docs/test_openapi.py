"""Swagger explains every operation: a summary, a request example, and the error bodies it can answer.

These tests walk the schema the server serves (GET /api/schema), so an
operation added later without them fails here, not in a reader's browser.
"""

import pytest

from ..openapi import operations, schema  # noqa: F401  (schema: the fixture)


def request_examples(operation):
    """Return {name: example} of the operation's request body, over every media type."""
    found = {}
    for media in operation.get("requestBody", {}).get("content", {}).values():
        found.update(media.get("examples", {}))
    return found


def test_every_operation_has_a_summary(schema):
    missing = [
        f"{method.upper()} {path}" for path, method, operation in operations(schema) if not operation.get("summary")
    ]
    assert missing == []


def test_every_request_body_has_an_example(schema):
    bodies = [(path, method, operation) for path, method, operation in operations(schema) if "requestBody" in operation]
    assert len(bodies) >= 15
    missing = [f"{method.upper()} {path}" for path, method, operation in bodies if not request_examples(operation)]
    assert missing == []


def test_every_error_response_shows_an_example_of_the_one_error_body(schema):
    checked = 0
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")) or path == "/api/health":
                continue  # the health check's 503 is its own report, not an error body
            examples = response["content"]["application/json"].get("examples", {})
            assert examples, (method, path, status)
            for example in examples.values():
                body = example["value"]
                assert set(body) in ({"detail", "code"}, {"detail", "code", "errors"}), (method, path, status)
                assert body["code"] and body["code"] == body["code"].lower(), (method, path, status)
                if status == "400" and body["code"] == "invalid":
                    assert body["errors"], (method, path)
                checked += 1
    assert checked > 100


def test_the_token_endpoint_shows_the_mfa_challenge_and_its_errors(schema):
    operation = schema["paths"]["/api/auth/token"]["post"]
    answers = [
        example["value"]
        for example in operation["responses"]["200"]["content"]["application/json"]["examples"].values()
    ]
    assert {"access", "refresh", "token_type", "expires_in"} <= set(answers[0])
    assert any(answer.get("mfa_required") is True and "mfa_token" in answer for answer in answers)
    codes = {
        example["value"]["code"]
        for status in ("401", "429")
        for example in operation["responses"][status]["content"]["application/json"]["examples"].values()
    }
    assert {"invalid_credentials", "account_locked", "throttled"} <= codes
    mfa = schema["paths"]["/api/auth/token/2fa"]["post"]["responses"]["401"]["content"]["application/json"]
    assert {example["value"]["code"] for example in mfa["examples"].values()} == {
        "invalid_mfa_code",
        "mfa_token_invalid",
    }


@pytest.mark.parametrize("path", ["/api/auth/token", "/api/auth/token/2fa", "/api/cms/login"])
def test_the_first_login_example_is_not_cookie_mode(schema, path):
    # Swagger UI pre-fills the first example: a plain login, whose answer carries both tokens.
    examples = list(request_examples(schema["paths"][path]["post"]).values())
    assert "session" not in examples[0]["value"]


def test_page_size_states_its_maximum(schema):
    sizes = [
        parameter
        for _path, _method, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "page_size"
    ]
    assert len(sizes) >= 4
    for parameter in sizes:
        assert parameter["schema"]["maximum"] == 200
        assert "1 to 200" in parameter["description"]
