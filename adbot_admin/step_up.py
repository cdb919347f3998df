"""Step-up: a sensitive action needs a proof of identity no older than REAUTH_MAX_AGE seconds.

Step-up reads a time, not a flag (as allauth's `did_recently_authenticate`).
For a bearer token the time is its `auth_time` claim (api/permissions.py
RecentAuthentication); for the admin site it is the time of the session's
login, kept in the session. Nothing renews either but a new proof: a login,
or POST /api/auth/reauthenticate.
"""

from django.conf import settings
from django.utils import timezone

# The admin site's session key for the time its user logged in.
ADMIN_SITE_AUTH_TIME = "adbot_auth_time"


def recently_authenticated(auth_time):
    """Return True when `auth_time` (a Unix time, or None) is within REAUTH_MAX_AGE seconds of now."""
    return auth_time is not None and timezone.now().timestamp() - auth_time <= settings.REAUTH_MAX_AGE


def admin_site_auth_time_stamp(request):
    """Remember in the admin site's session that its user proved who they are just now."""
    request.session[ADMIN_SITE_AUTH_TIME] = int(timezone.now().timestamp())


def admin_site_recently_authenticated(request):
    return recently_authenticated(request.session.get(ADMIN_SITE_AUTH_TIME))
