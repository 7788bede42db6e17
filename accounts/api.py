from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import User
from accounts.phones import InvalidPhone, to_e164


class AdminCanWrite(permissions.BasePermission):
    """Everyone signed in reads; only staff create users."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return bool(request.user and request.user.is_staff)


class UserSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    email = serializers.EmailField(required=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)

    class Meta:
        model = User
        fields = ["id", "username", "email", "phone", "first_name", "last_name"]

    def validate_phone(self, value: str) -> str:
        if not value:
            return ""
        try:
            return to_e164(value)
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from None

    def create(self, validated_data: dict[str, Any]) -> User:
        # A responder signs in later through a password reset; no usable password now.
        user = User(**validated_data)
        user.set_unusable_password()
        user.save()
        return user


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Users who can be paged. POST {"username", "email", "phone"} (staff only)."""

    serializer_class = UserSerializer
    permission_classes = [AdminCanWrite]

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.filter(is_active=True).order_by("id")
