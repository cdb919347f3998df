"""The domain errors of signing in, sessions and the shared plumbing, each with its status and code, once.

Each is a DRF APIException subclass (DRF `rest_framework/exceptions.py`):
`status_code`, `default_detail` and a snake_case `default_code` say how it is
answered wherever it is raised. One translation writes the body: DRF's
exception handler (api/exceptions.py) for API views, and
`http_errors.api_exception_response` for the admin site and the middlewares.
Nothing classifies an error by its message.
"""

from rest_framework import exceptions, status


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource already exists."
    default_code = "conflict"


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request."
    default_code = "bad_request"


class ServerError(exceptions.APIException):
    """An unhandled error: the body of Django's 500 handler (the error itself is logged, never shown)."""

    default_detail = "Internal server error."
    default_code = "server_error"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class CodedValidationError(exceptions.ValidationError):
    """A validation error with a code of its own: 400 `{detail, code, errors}` with `code` instead of `invalid`."""

    def __init__(self, detail, code):
        super().__init__(detail, code)
        self.code = code


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource no longer matches the request's If-Match or If-Unmodified-Since."
    default_code = "precondition_failed"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again shortly."
    default_code = "service_unavailable"

    def __init__(self, detail=None, code=None, retry_after=None):
        super().__init__(detail, code)
        self.retry_after = retry_after


class InsufficientStorage(exceptions.APIException):
    status_code = 507
    default_detail = "The server has no room to store this file; nothing was kept."
    default_code = "insufficient_storage"


class NotConfigured(ServiceUnavailable):
    default_detail = "This feature is not configured on this server."
    default_code = "not_configured"


class LimiterUnavailable(ServiceUnavailable):
    default_detail = "Rate limiting is unavailable, so this action is refused; try again shortly."
    default_code = "rate_limiter_unavailable"


class PasswordChecksBusy(ServiceUnavailable):
    default_detail = "Too many logins are being checked right now; try again in a moment."
    default_code = "login_capacity_exceeded"


class LogoutNotRecorded(ServiceUnavailable):
    default_detail = "The logout did not happen: the database is unavailable. Try again shortly."
    default_code = "logout_failed"


class InvalidCredentials(exceptions.AuthenticationFailed):
    """A wrong password (or an unknown username): the one answer of every login and password re-check."""

    default_detail = "The credentials are wrong."
    default_code = "invalid_credentials"


class AccountDisabled(exceptions.AuthenticationFailed):
    default_detail = "The CMS admin account is disabled."
    default_code = "account_disabled"


class AccountLocked(exceptions.Throttled):
    default_detail = "Too many failed logins for this account."
    default_code = "account_locked"
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


class InvalidMfaCode(exceptions.AuthenticationFailed):
    default_detail = "The code is wrong or was already used."
    default_code = "invalid_mfa_code"


class MfaTokenInvalid(exceptions.AuthenticationFailed):
    default_detail = "The mfa_token is unknown, expired, used or spent by wrong codes: log in again."
    default_code = "mfa_token_invalid"


class MfaCodeThrottled(exceptions.Throttled):
    default_detail = "Too many wrong codes for this account: wait before the next one."
    default_code = "mfa_code_throttled"


class MfaAlreadyEnabled(Conflict):
    default_detail = "Two-factor authentication is already on; turn it off first."
    default_code = "mfa_already_enabled"


class MfaNotEnabled(Conflict):
    default_detail = "Two-factor authentication is not on, or no enrolment awaits confirmation."
    default_code = "mfa_not_enabled"


class MfaNotAvailable(Conflict):
    default_detail = "Two-factor authentication is for accounts of this server, not frontend logins."
    default_code = "mfa_not_available"


class CsrfFailed(exceptions.PermissionDenied):
    default_detail = "CSRF verification failed."
    default_code = "csrf_failed"


class RefreshCookieMissing(exceptions.NotAuthenticated):
    default_detail = "No refresh cookie was sent: log in again."


class IpNotAllowed(exceptions.PermissionDenied):
    default_detail = "Your address may not reach the admin interface."
    default_code = "ip_not_allowed"


class MetricsTokenInvalid(exceptions.AuthenticationFailed):
    default_detail = "The metrics token is not valid."
    default_code = "invalid_metrics_token"


class MetricsNotAllowed(exceptions.PermissionDenied):
    default_detail = "Your address may not read the metrics."
    default_code = "metrics_not_allowed"


class CmsPasswordLoginOff(exceptions.NotFound):
    """CMS_PASSWORD_LOGIN is off: the shared password's route is not there."""


class CmsPasswordDisabled(exceptions.PermissionDenied):
    default_detail = (
        "This server requires two-factor authentication for admins, so the shared CMS password is off: "
        "sign in with your own account (POST /api/auth/token) or a passkey."
    )
    default_code = "cms_password_disabled"


class PasskeyRefused(exceptions.AuthenticationFailed):
    """An assertion that proves nothing: unknown or spent challenge, unknown credential, bad signature, ..."""

    default_detail = "The passkey was not accepted: start again with a new challenge."
    default_code = "invalid_passkey"


class PasskeyRegistrationRefused(exceptions.APIException):
    """A registration response that does not verify, or whose challenge is unknown, spent or expired."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The passkey registration was not accepted: start again with a new challenge."
    default_code = "invalid_passkey_registration"


class PasskeyExists(Conflict):
    default_detail = "This passkey is already registered."
    default_code = "passkey_exists"


class TooManyPasskeys(Conflict):
    default_detail = "An account holds at most 20 passkeys: remove one first."
    default_code = "too_many_passkeys"


class LastSecondFactor(Conflict):
    default_detail = (
        "This server requires two-factor authentication for admins, and this passkey is your last second "
        "factor: add another passkey or turn on TOTP first."
    )
    default_code = "last_second_factor"


class SecondFactorRequired(exceptions.AuthenticationFailed):
    default_detail = "Two-factor authentication is on for this account: send a `code` or a passkey `credential` too."
    default_code = "second_factor_required"


class InsufficientScope(exceptions.PermissionDenied):
    default_detail = "This token's scope does not open this endpoint."
    default_code = "insufficient_scope"


class ServiceTokenIpNotAllowed(IpNotAllowed):
    default_detail = "This service token may not be used from your address."
