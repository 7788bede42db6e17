"""/api/v1/me/...: the signed-in user's own contact methods and notification rules, the
API twin of the profile page (accounts.profile_views). Every lookup is filtered by
``user=request.user``, so another user's id is a 404; every write goes through
accounts.contacts, whose ContactError becomes a 400 naming the problem."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import contacts
from accounts.models import ContactMethod, NotificationRule, User
from notifications import services as notification_services

Channel = NotificationRule.Channel
Event = NotificationRule.Event

KIND_CHOICES = [
    (ContactMethod.Kind.PHONE.value, "Phone number with its country code: SMS and voice calls"),
    (ContactMethod.Kind.EMAIL.value, "Email address"),
]


def _me(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # the default permission (IsAuthenticated) ran first
    return user


def _channel_words(channel: str) -> str:
    return "SMS" if channel == Channel.SMS else Channel(channel).label.lower()


def _outbox_note(notification_id: int, what: str) -> str:
    return (
        f" Outbox mode: the {what} is recorded (GET /api/v1/notifications/{notification_id}/), "
        "not sent."
    )


# ----------------------------------------------------------------------------- serializers


class MyContactMethodSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    # The labels say what each kind carries (the API docs list them). Being distinct from
    # the model's, they also give this choice set its own schema enum
    # (MyContactMethodKindEnum): with the model's choices, drf-spectacular warns of a
    # "kind" enum naming collision (users/ embeds ContactMethod.Kind as well).
    kind = serializers.ChoiceField(choices=KIND_CHOICES)
    value = serializers.CharField(
        max_length=254,
        help_text="A phone number with its country code (stored in E.164) or an email address.",
    )
    verified = serializers.BooleanField(
        source="is_verified",
        read_only=True,
        help_text="Usable for paging. Email addresses are at once; phones once a code is "
        "verified.",
    )

    class Meta:
        model = ContactMethod
        fields = ["id", "kind", "value", "verified", "verified_at", "created_at"]
        read_only_fields = ["id", "verified", "verified_at", "created_at"]
        # Duplicates and numbers verified by someone else are refused by
        # contacts.add_contact_method, with a message; no model-derived validators.
        validators: list[Any] = []

    def create(self, validated_data: dict[str, Any]) -> ContactMethod:
        try:
            return contacts.contact_method_add(
                user=_me(self.context["request"]),
                kind=validated_data["kind"],
                raw=validated_data["value"],
            )
        except contacts.ContactError as exc:
            raise ValidationError({"value": [str(exc)]}) from None


class VerifyInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField(max_length=12, help_text="The code from the SMS.")


class VerifyResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    verified = serializers.BooleanField()
    detail = serializers.CharField()


class TestInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    channel = serializers.ChoiceField(choices=Channel.choices)


class QueuedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    notification = serializers.IntegerField(
        help_text="Id of the queued message: GET /api/v1/notifications/<id>/ follows it."
    )
    detail = serializers.CharField()


class DetailSerializer(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField()


class OwnContactMethodField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """The id of one of the signed-in user's own contact methods."""

    default_error_messages = {
        "does_not_exist": "You have no contact method with id {pk_value}.",
    }

    def get_queryset(self) -> QuerySet[ContactMethod]:
        return ContactMethod.objects.filter(user=_me(self.context["request"]))


class MyNotificationRuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    contact_method = OwnContactMethodField(
        queryset=ContactMethod.objects.all(),
        help_text="One of your verified contact methods.",
    )
    delay_minutes = serializers.IntegerField(
        min_value=0, max_value=1440, default=0, help_text="0 for at once; at most 1440."
    )
    description = serializers.SerializerMethodField(
        help_text='The rule in words, e.g. "SMS to +15005550001 at once".'
    )

    class Meta:
        model = NotificationRule
        fields = ["id", "event", "contact_method", "channel", "delay_minutes", "description"]
        read_only_fields = ["id", "description"]

    def get_description(self, rule: NotificationRule) -> str:
        return str(rule)

    def validate_contact_method(self, method: ContactMethod) -> ContactMethod:
        if not method.is_verified:
            raise ValidationError(
                f"Verify {method.value} first: rules use verified contact methods only."
            )
        return method

    def create(self, validated_data: dict[str, Any]) -> NotificationRule:
        try:
            return contacts.notification_rule_add(
                user=_me(self.context["request"]),
                event=validated_data.get("event", Event.TRIGGERED),
                contact_method=validated_data["contact_method"],
                channel=validated_data["channel"],
                delay_minutes=validated_data["delay_minutes"],
            )
        except contacts.ContactError as exc:
            # Ownership and the delay are checked above: what is left is the channel.
            raise ValidationError({"channel": [str(exc)]}) from None


# ------------------------------------------------------------------------------- viewsets


def _not_verified(detail: str, field_errors: dict[str, Any] | None = None) -> Response:
    body = {**(field_errors or {}), "verified": False, "detail": detail}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class MyContactMethodViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Your own phone numbers and email addresses. POST {"kind": "phone", "value":
    "+44 7700 900123"}: a phone is unusable for paging until verified (send-code, then
    verify); an email address is usable at once. DELETE also deletes the rules using it."""

    serializer_class = MyContactMethodSerializer

    def get_queryset(self) -> QuerySet[ContactMethod]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return ContactMethod.objects.none()
        return ContactMethod.objects.filter(user=_me(self.request)).order_by("kind", "id")

    def perform_destroy(self, instance: ContactMethod) -> None:
        contacts.contact_method_delete(method=instance)

    @extend_schema(
        request=None,
        responses={
            202: QueuedSerializer,
            400: OpenApiResponse(DetailSerializer, description="Refused; detail says why."),
        },
    )
    @action(detail=True, methods=["post"], url_path="send-code")
    def send_code(self, request: Request, pk: str | None = None) -> Response:
        """Send a verification code by SMS to an unverified phone (at most one a minute
        per number); then POST the code to verify/."""
        method = self.get_object()
        try:
            row = contacts.contact_method_send_code(method=method)
        except contacts.ContactError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        text = (
            f"A code is on its way to {method.value}; it works for "
            f"{settings.VERIFY_CODE_MINUTES} minutes."
        )
        if settings.TWILIO_OUTBOX_MODE:
            text += _outbox_note(row.pk, "SMS")
        return Response({"notification": row.pk, "detail": text}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=VerifyInputSerializer,
        responses={
            200: VerifyResultSerializer,
            400: OpenApiResponse(
                VerifyResultSerializer,
                description=(
                    'Not verified: "detail" says why; input that is not valid is also '
                    'named by field, e.g. "code": ["This field is required."].'
                ),
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        """Check the code sent by send-code. A first verified method gives a user
        without rules the default ones."""
        method = self.get_object()
        # Every refusal has the one shape the schema gives: {"verified": false, "detail"},
        # a malformed request included.
        try:
            data = VerifyInputSerializer(data=request.data)
            valid = data.is_valid()
        except ParseError as exc:
            return _not_verified(str(exc.detail))
        if not valid:
            # The field errors as DRF gives them too: {"code": ["This field is required."]}.
            text = " ".join(f"{name}: {' '.join(map(str, e))}" for name, e in data.errors.items())
            return _not_verified(text, data.errors)
        had_rules = NotificationRule.objects.filter(user=method.user).exists()
        result = contacts.contact_method_verify(method=method, code=data.validated_data["code"])
        if not result.ok:
            return _not_verified(result.message)
        text = result.message
        if not had_rules and NotificationRule.objects.filter(user=method.user).exists():
            text += (
                " You now have the default rules: SMS at once and a voice call after 5 "
                "minutes when an incident is triggered, an SMS when it is resolved."
            )
        return Response({"verified": True, "detail": text})

    @extend_schema(
        request=TestInputSerializer,
        responses={
            202: QueuedSerializer,
            400: OpenApiResponse(description="Unverified, or a channel it cannot carry."),
        },
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send yourself a test message by one channel (sms or voice for a phone, email for
        an email address) to a verified method."""
        method = self.get_object()
        data = TestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = data.validated_data["channel"]
        if channel not in method.channels:
            choose = " or ".join(Channel(c).label for c in method.channels)
            raise ValidationError(
                {
                    "channel": [
                        f"{method.value} cannot carry {Channel(channel).label}; choose {choose}."
                    ]
                }
            )
        if not method.is_verified:
            return Response(
                {"detail": f"Verify {method.value} first: tests go to verified methods only."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            row = notification_services.notification_queue_test(method=method, channel=channel)
        except ValueError as exc:
            raise ValidationError({"channel": [str(exc)]}) from None
        text = f"Test {_channel_words(channel)} to {method.value} queued."
        if channel == Channel.EMAIL:
            if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
                text += " Email goes to the server console here: EMAIL_URL is not set."
        elif settings.TWILIO_OUTBOX_MODE:
            text += _outbox_note(row.pk, "SMS" if channel == Channel.SMS else "call")
        return Response({"notification": row.pk, "detail": text}, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("event", str, enum=Event.values, description="One event")]
    )
)
class MyNotificationRuleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Your own notification rules: "when an incident is <event>, notify me by <channel>
    at <contact_method> after <delay_minutes>". POST {"event": "triggered",
    "contact_method": 3, "channel": "voice", "delay_minutes": 5}."""

    serializer_class = MyNotificationRuleSerializer

    def get_queryset(self) -> QuerySet[NotificationRule]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return NotificationRule.objects.none()
        rules = NotificationRule.objects.filter(user=_me(self.request)).select_related(
            "contact_method"
        )
        if self.action == "list":  # filters narrow the list, never a lookup
            event = self.request.query_params.get("event", "")
            # A filter we cannot apply is an error, not "every rule".
            if event and event not in Event.values:
                raise ValidationError({"event": [f"Not one of {', '.join(Event.values)}."]})
            if event:
                rules = rules.filter(event=event)
        return rules.order_by("event", "delay_minutes", "id")
