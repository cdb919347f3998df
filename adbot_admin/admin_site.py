import functools

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.urls import path
from django_otp import user_has_device
from django_otp.admin import OTPAdminAuthenticationForm
from rest_framework.exceptions import APIException

from . import admin_passkeys, mfa, signin
from .http_errors import api_exception_response
from .models import AuthMethod
from .passkeys import has_passkey

ENROL_FIRST = (
    "This server requires two-factor authentication for the admin site. Turn it on through the API: "
    "POST /api/auth/2fa/setup with your password, add the secret to an authenticator app, then "
    "POST /api/auth/2fa/confirm with its code; then log in here with a code."
)


PASSKEY_FIRST = "This account's second factor is a passkey: use “Sign in with a passkey” below."


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
        self.cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        if user is None:
            return self.cleaned_data
        device = mfa.confirmed_device(user)
        if device is None and has_passkey(user):
            # The passkey is this account's second factor, and this form cannot ask for it.
            raise forms.ValidationError(PASSKEY_FIRST, code="passkey_required")
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
    the flow (budget, lockout, audit) is signin.login_to_admin_site.

    Staff with a confirmed TOTP device reach it only after giving a code at
    login; with REQUIRE_ADMIN_2FA on, staff without one do not reach it at all.
    """

    site_header = "adbot admin"
    site_title = "adbot admin"
    login_form = AdminLoginForm
    # django-otp's login page, with "Sign in with a passkey".
    login_template = "adbot_admin/admin/login.html"

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        # A passkey with user verification is both factors at once.
        if request.user.is_verified() or request.session.get(signin.ADMIN_SITE_PASSKEY_VERIFIED):
            return True
        # Read on every page: a device confirmed after this login asks for a code from the next page on.
        return not settings.REQUIRE_ADMIN_2FA and not user_has_device(request.user)

    def get_urls(self):
        def with_site(view):
            return functools.partial(view, site=self)

        passkey_urls = [
            # The login page's "Sign in with a passkey": open, CSRF-checked, budgeted like the login form.
            path("passkey/begin", with_site(admin_passkeys.passkey_login_begin), name="passkey_begin"),
            path("passkey/complete", with_site(admin_passkeys.passkey_login_complete), name="passkey_complete"),
            path("passkeys/", self.admin_view(with_site(admin_passkeys.passkeys_page)), name="passkeys"),
            path(
                "passkeys/register/begin",
                self.admin_view(with_site(admin_passkeys.passkey_register_begin)),
                name="passkey_register_begin",
            ),
            path(
                "passkeys/register/complete",
                self.admin_view(with_site(admin_passkeys.passkey_register_complete)),
                name="passkey_register_complete",
            ),
        ]
        return passkey_urls + super().get_urls()

    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)

        def log_in():
            response = super(AdbotAdminSite, self).login(request, extra_context)
            return response, _password_refused(response)

        try:
            return signin.login_to_admin_site(
                request=request,
                username=request.POST.get("username", ""),
                checks_password=bool(request.POST.get("username") and request.POST.get("password")),
                log_in=log_in,
            )
        except APIException as exc:
            return api_exception_response(exc)
