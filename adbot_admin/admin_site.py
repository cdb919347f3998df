from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import JsonResponse
from django_otp import user_has_device
from django_otp.admin import OTPAdminAuthenticationForm
from rest_framework.exceptions import APIException

from .api import lockout, ratelimits
from .api.exceptions import error_body

ENROL_FIRST = (
    "This server requires two-factor authentication for the admin site. Turn it on through the API: "
    "POST /api/auth/2fa/setup with your password, add the secret to an authenticator app, then "
    "POST /api/auth/2fa/confirm with its code; then log in here with a code."
)


class AdminLoginForm(OTPAdminAuthenticationForm):
    """The admin-site login: password, then the current TOTP code for a user with two-factor on.

    A user without a confirmed device logs in with the password alone, unless
    REQUIRE_ADMIN_2FA refuses them. django-otp's form verifies the code
    (replay protection and back-off included) and records the device in the
    session, which the site's has_permission() reads.
    """

    otp_token = forms.CharField(
        required=False,
        label="Two-factor code",
        help_text="Only if two-factor authentication is on for your account: the authenticator app's "
        "current code. Leave it empty otherwise.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        from . import mfa
        from .models import AuthMethod

        self.cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        if user is None:
            return self.cleaned_data
        device = mfa.confirmed_device(user)
        if device is None:
            if settings.REQUIRE_ADMIN_2FA:
                raise forms.ValidationError(ENROL_FIRST, code="mfa_enrollment_required")
            return self.cleaned_data
        # One device per user: no need to make the user pick it from a list.
        self.cleaned_data["otp_device"] = device.persistent_id
        try:
            self.clean_otp(user)
        except forms.ValidationError as exc:
            if self.cleaned_data.get("otp_token"):
                mfa.code_failure_record(
                    request=self.request,
                    user=user,
                    kind=f"totp:{exc.code or 'throttled'}",
                    auth_method=AuthMethod.ADMIN_SITE,
                )
            raise
        return self.cleaned_data


def _password_refused(response):
    """Return True when the re-shown login form refused the password (or the username), not a later check."""
    form = (getattr(response, "context_data", None) or {}).get("form")
    # authenticate() found no one: a wrong password or an unknown username. A right password that a
    # TOTP code, REQUIRE_ADMIN_2FA or a non-staff account refused still names its user.
    return form is None or form.get_user() is None


class AdbotAdminSite(admin.AdminSite):
    """The admin site; its login form spends the same `login` budget as the API and asks for a TOTP code;
    failed password checks count toward the account lockout (api/lockout.py).

    Staff with a confirmed TOTP device reach it only after giving a code at
    login; with REQUIRE_ADMIN_2FA on, staff without one do not reach it at all.
    """

    site_header = "adbot admin"
    site_title = "adbot admin"
    login_form = AdminLoginForm
    # django-otp's login page, with the code field labelled by the form (optional) and no device picker.
    login_template = "adbot_admin/admin_login.html"

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        if request.user.is_verified():
            return True
        # Read on every page: a device confirmed after this login asks for a code from the next page on.
        return not settings.REQUIRE_ADMIN_2FA and not user_has_device(request.user)

    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)
        username = str(request.POST.get("username", ""))[:150]
        checks_password = bool(username and request.POST.get("password"))
        try:
            ratelimits.spend(request, ratelimits.LOGIN)
            if checks_password:
                lockout.check(request, username)
            with ratelimits.working_slot(ratelimits.LOGIN):
                response = super().login(request, extra_context)
            if response.status_code == 302:
                lockout.clear(username)
            elif checks_password and _password_refused(response):
                lockout.failed(request, username)
            elif checks_password:  # the password was right; a code or the account's state refused it
                lockout.clear(username)
        except APIException as exc:
            response = JsonResponse(error_body(exc.detail, exc.get_codes()), status=exc.status_code)
            wait = getattr(exc, "wait", None) or getattr(exc, "retry_after", None)
            if wait:
                response["Retry-After"] = str(int(wait))
            return response
        self._audit_login(request, succeeded=response.status_code == 302)
        return response

    @staticmethod
    def _audit_login(request, *, succeeded):
        from .audit import record
        from .models import AuthMethod, Outcome

        username = str(request.POST.get("username", ""))[:150]
        record(
            request=request,
            action="admin_site_login",
            actor=username if succeeded else "",
            target=username,
            auth_method=AuthMethod.ADMIN_SITE,
            outcome=Outcome.SUCCESS if succeeded else Outcome.FAILURE,
        )
