"""OpenAPI descriptions of the project's own authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AdminJWTScheme(OpenApiAuthenticationExtension):
    target_class = "adbot_admin.api.authentication.AdminJWTAuthentication"
    name = "backendToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from POST /api/auth/token or /api/cms/login (HS256, `role` claim).",
        }


class FrontendJWTScheme(OpenApiAuthenticationExtension):
    target_class = "adbot_admin.api.authentication.FrontendJWTAuthentication"
    name = "frontendToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Token minted by the Next.js frontend with JWT_SECRET (HS256, `exp` and `role`).",
        }
