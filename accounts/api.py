from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets

from accounts import contacts
from accounts.models import ContactMethod, NotificationRule, User
from accounts.roles import AdminOrReadOnly


class ContactMethodSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    verified = serializers.BooleanField(source="is_verified", read_only=True)

    class Meta:
        model = ContactMethod
        fields = ["id", "kind", "value", "verified"]
        read_only_fields = fields


class NotificationRuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = NotificationRule
        fields = ["id", "event", "channel", "contact_method", "delay_minutes"]
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    email = serializers.EmailField(required=True)
    # Written: any format with a country code; read: the first verified phone in E.164.
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    contact_methods = ContactMethodSerializer(many=True, read_only=True)
    notification_rules = NotificationRuleSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "phone",
            "first_name",
            "last_name",
            "contact_methods",
            "notification_rules",
        ]

    def validate_phone(self, value: str) -> str:
        if not value:
            return ""
        try:
            return contacts.contact_value_normalise(kind=ContactMethod.Kind.PHONE, raw=value)
        except contacts.ContactError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def create(self, validated_data: dict[str, Any]) -> User:
        # The admin vouches for the phone and email: both usable at once, default rules,
        # no usable password (the responder signs in after a password reset).
        try:
            return contacts.responder_create(
                username=validated_data["username"],
                email=validated_data["email"],
                phone=validated_data.get("phone", ""),
                first_name=validated_data.get("first_name", ""),
                last_name=validated_data.get("last_name", ""),
            )
        except contacts.ContactError as exc:
            raise serializers.ValidationError({"phone": [str(exc)]}) from None


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Users who can be paged, with their contact methods and notification rules.
    POST {"username", "email", "phone"} (admins: staff or a team's admin) creates a
    responder whose phone and email are usable at once, with the default rules: SMS at
    once, a voice call after 5 minutes, an SMS on resolve."""

    serializer_class = UserSerializer
    permission_classes = [AdminOrReadOnly]

    def get_queryset(self) -> QuerySet[User]:
        return (
            User.objects.filter(is_active=True)
            .prefetch_related("contact_methods", "notification_rules")
            .order_by("id")
        )
