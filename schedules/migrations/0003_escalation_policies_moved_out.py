# Escalation policies now live in the escalation app (escalation/0001): they leave this
# app's state only; their tables stay, now owned by that app.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("schedules", "0002_bounded_schedule_dates"),
        ("escalation", "0001_policies_move_here"),
        ("integrations", "0004_escalation_policy_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="EscalationStep"),
                migrations.DeleteModel(name="EscalationPolicy"),
            ],
            database_operations=[],
        ),
    ]
