# The foreign key's target moved app (escalation/0001); its table and column did not,
# so the database keeps its constraint as it is.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0003_inbound_source"),
        ("escalation", "0001_policies_move_here"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="integration",
                    name="escalation_policy",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="integrations", to="escalation.escalationpolicy"),
                ),
            ],
            database_operations=[],
        ),
    ]
