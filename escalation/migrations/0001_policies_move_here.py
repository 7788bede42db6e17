# Escalation policies and their steps move from the schedules app to this one. Only
# Django's idea of where the models live changes: the tables keep their names (db_table),
# and no row is copied. schedules/0003 drops them from that app's state and
# integrations/0004 points Integration.escalation_policy here, in the same way.

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ("escalationpolicy", "escalationstep")


def move_content_types(apps, schema_editor, old="schedules", new="escalation"):
    """Keep the content types (and with them permissions and admin history) of the two
    models: rename their app label rather than leave Django to create new ones."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if not ContentType.objects.using(db).filter(app_label=new, model=model).exists():
            ContentType.objects.using(db).filter(app_label=old, model=model).update(
                app_label=new
            )


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, old="escalation", new="schedules")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("schedules", "0002_bounded_schedule_dates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EscalationPolicy",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("repeat", models.PositiveSmallIntegerField(default=0, help_text="How many more times to run the steps if nobody acknowledges (0-9).", validators=[django.core.validators.MaxValueValidator(9)])),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("team", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="escalation_policies", to="accounts.team")),
                    ],
                    options={
                        "verbose_name_plural": "escalation policies",
                        "db_table": "schedules_escalationpolicy",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="EscalationStep",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("position", models.PositiveSmallIntegerField()),
                        ("delay_minutes", models.PositiveIntegerField(default=5, help_text="Minutes to wait for an acknowledgement before the next step.")),
                        ("policy", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="steps", to="escalation.escalationpolicy")),
                        ("schedules", models.ManyToManyField(blank=True, to="schedules.schedule")),
                        ("teams", models.ManyToManyField(blank=True, to="accounts.team")),
                        ("users", models.ManyToManyField(blank=True, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "schedules_escalationstep",
                        "ordering": ["policy", "position"],
                        "constraints": [models.UniqueConstraint(fields=("policy", "position"), name="one_step_per_position")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
