from __future__ import annotations

from rest_framework.routers import DefaultRouter

from accounts.api import UserViewSet
from incidents.api import IncidentViewSet
from integrations.api import InboundMessageViewSet, IntegrationViewSet
from schedules.api import EscalationPolicyViewSet, ScheduleViewSet

router = DefaultRouter()
router.register("integrations", IntegrationViewSet)
router.register("incidents", IncidentViewSet, basename="incident")
router.register("inbound-messages", InboundMessageViewSet, basename="inbound-message")
router.register("schedules", ScheduleViewSet)
router.register("escalation-policies", EscalationPolicyViewSet)
router.register("users", UserViewSet, basename="user")
