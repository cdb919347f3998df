"""adbot_admin: the project package and the accounts app, kept as one on purpose.

AUTH_USER_MODEL is `adbot_admin.User`: moving the user model to another app
label is unsupported by Django once migrations exist, so the label (and every
table and migration) stays, and the layout shows the split instead:

- project plumbing: settings, urls, wsgi/asgi, apps, checks, logs, env_file,
  and the middlewares' modules (request_limits, content_security_policy,
  ip_allowlist, http_errors);
- accounts: models, admin, admin_site, audit, signin (every way in), lockout,
  mfa, tokens, login_sessions, auth_state, logout;
- api/: DRF adapters only; nothing outside an `api/` package imports from one.
"""
