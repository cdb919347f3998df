from django.contrib import admin
from django.http import JsonResponse
from rest_framework.exceptions import APIException

from .api import lockout, ratelimits
from .api.exceptions import error_body


class AdbotAdminSite(admin.AdminSite):
    """The admin site; its login form spends the same `login` budget as the API and counts toward the account lockout."""

    site_header = "adbot admin"
    site_title = "adbot admin"

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
            elif checks_password:  # the form hashed the password and refused it
                lockout.failed(request, username)
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
