"""The project's URLs plus one route a careless change could add: open to anyone, not listed public."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class UnguardedView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request, pk):
        return Response({"pk": pk})


urlpatterns = [
    path("api/admin/canary/<int:pk>", UnguardedView.as_view()),
    path("", include("adbot_admin.urls")),
]
