"""The project's URLs plus routes a careless change could add: one open to anyone and not listed public, one guarded."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class UnguardedView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request, pk):
        return Response({"pk": pk})


class GuardedView(APIView):
    """The default guard (IsAdminRole) and no `allowed_scopes`, as a new admin view would start."""

    def get(self, request, pk):
        return Response({"pk": pk})


urlpatterns = [
    path("api/admin/canary/<int:pk>", UnguardedView.as_view()),
    path("api/admin/scope-probe/<int:pk>", GuardedView.as_view()),
    path("", include("adbot_admin.urls")),
]
