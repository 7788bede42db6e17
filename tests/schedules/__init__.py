"""Schedules and escalation policies: on-call maths, their pages, the iCal feeds, and the
move of policies into their own app."""
