"""adbot_admin: the project package and the accounts app, in one package on purpose.

Why one package: the accounts models (the custom User, LoginSession,
AuditEvent, ...) live in this app's migration history, and AUTH_USER_MODEL is
`adbot_admin.User`. Moving the user model to another app label is what Django
documents as unsupported once migrations exist (every table and foreign key to
it, django-otp's and SimpleJWT's included, would have to be re-pointed by
hand). Keeping the label keeps every table and migration; the layout shows the split instead:

Project plumbing (settings and the request path, no accounts logic):
    settings.py urls.py wsgi.py asgi.py apps.py checks.py env_file.py logs.py
    http_errors.py      the error body for answers DRF does not write
    request_limits.py   body and Host limits (middleware)
    content_security_policy.py  the pages' CSP (middleware, django-csp)
    ip_allowlist.py     ADMIN_ALLOWED_IPS (middleware)
    client_ip.py budgets.py slots.py file_storage.py sizes.py errors.py

Accounts (signing in, sessions, audit):
    models.py admin.py admin_site.py audit.py
    signin.py           every way in: password, CMS password, 2FA step, refresh, admin site
    lockout.py hashers.py mfa.py tokens.py login_sessions.py auth_state.py logout.py

api/: DRF adapters only (authentication classes, permissions, serializers,
views, schema hooks); nothing outside an `api/` package imports from one
(tests/test_layers.py).
"""
