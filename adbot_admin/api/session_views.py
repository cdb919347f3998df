"""Login sessions over HTTP: the caller's own (list, end one, end all) and an admin ending another user's.

A CMS token's account is shared by everyone who knows the CMS password, so it
sees and ends only its own session. A frontend (Next.js) token has no session
here: it lists none, ends none, and `logout-all` refuses that token itself.
Tokens issued before sessions existed (no `sid`) are in no list; `logout-all`
refuses the one presented and every refresh token of the account.
"""

import uuid

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import logout
from ..login_sessions import login_sessions_open
from ..models import LoginSession, Scope
from ..tokens import SESSION_CLAIM
from . import serializers
from .permissions import IsAdminRole, RecentAuthentication

SESSION_NOT_FOUND = OpenApiResponse(description="The caller has no open login session with this id.")
USER_NOT_FOUND = OpenApiResponse(description="No user with this username.")
SESSION_ID_PARAMETER = OpenApiParameter(
    "session_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="A login session id, as listed."
)


def own_sessions(request):
    """Return the open login sessions the caller may see and end."""
    user = request.user
    if getattr(user, "pk", None) is None:  # a frontend token
        return LoginSession.objects.none()
    sessions = login_sessions_open(user=user)
    if user.scope != Scope.ALL:
        sessions = sessions.filter(pk=request.auth.get(SESSION_CLAIM))
    return sessions


class LoginSessionList(APIView):
    """Lists the caller's open login sessions, newest first; `current` marks the one of this token."""

    allowed_scopes = (Scope.CMS,)

    @extend_schema(summary="List your login sessions", responses={200: serializers.LoginSessionSerializer(many=True)})
    def get(self, request):
        sessions = own_sessions(request)
        context = {"current": request.auth.get(SESSION_CLAIM)}
        return Response(serializers.LoginSessionSerializer(sessions, many=True, context=context).data)


class LoginSessionDetail(APIView):
    """Ends one of the caller's login sessions: its access and refresh tokens are refused from the next request."""

    allowed_scopes = (Scope.CMS,)

    @extend_schema(
        summary="End one of your login sessions",
        parameters=[SESSION_ID_PARAMETER],
        responses={204: None, 404: SESSION_NOT_FOUND},
    )
    def delete(self, request, session_id):
        try:
            session_id = uuid.UUID(session_id)
        except ValueError as exc:
            raise NotFound() from exc
        if not own_sessions(request).filter(pk=session_id).exists():
            raise NotFound()
        if not logout.login_session_end_own(session_id=session_id, request=request):
            raise NotFound()  # ended meanwhile
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Ends every login session of the caller, this one included."""

    allowed_scopes = (Scope.CMS,)

    @extend_schema(summary="End all your login sessions", request=serializers.NoFieldsSerializer, responses={204: None})
    def post(self, request):
        serializers.NoFieldsSerializer(data=request.data).is_valid(raise_exception=True)
        if getattr(request.user, "scope", Scope.ALL) != Scope.ALL:
            # A shared CMS account: one gallery login does not end the others.
            logout.token_logout(access_token=request.auth, user=request.user, request=request)
        else:
            logout.token_logout_all(access_token=request.auth, user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserLogoutAllView(APIView):
    """Ends every login session of the named user (an admin action, audited; it needs a recent `auth_time`)."""

    permission_classes = [IsAdminRole, RecentAuthentication]

    @extend_schema(
        summary="End all login sessions of a user",
        request=serializers.NoFieldsSerializer,
        parameters=[OpenApiParameter("username", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={204: None, 404: USER_NOT_FOUND},
    )
    def post(self, request, username):
        serializers.NoFieldsSerializer(data=request.data).is_valid(raise_exception=True)
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise NotFound("No user with this username.")
        logout.user_logout_all(user=user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
