from __future__ import annotations

from rest_framework.routers import DefaultRouter

from accounts.api import UserViewSet
from accounts.profile_api import MyContactMethodViewSet, MyNotificationRuleViewSet
from aws.api import DetectionViewSet
from escalation.api import EscalationPolicyViewSet
from incidents.api import IncidentViewSet
from integrations.api import InboundMessageViewSet, IntegrationViewSet
from notifications.api import NotificationViewSet
from schedules.api import ScheduleViewSet

router = DefaultRouter()
router.register("integrations", IntegrationViewSet)
router.register("incidents", IncidentViewSet, basename="incident")
router.register("inbound-messages", InboundMessageViewSet, basename="inbound-message")
router.register("schedules", ScheduleViewSet)
router.register("escalation-policies", EscalationPolicyViewSet)
router.register("users", UserViewSet, basename="user")
router.register("me/contact-methods", MyContactMethodViewSet, basename="my-contact-method")
router.register(
    "me/notification-rules", MyNotificationRuleViewSet, basename="my-notification-rule"
)
router.register("notifications", NotificationViewSet, basename="notification")
router.register("detections", DetectionViewSet, basename="detection")
