# IncidentEvent.channel meant how a line came (web, api, sms reply, source...), while
# Notification.channel is a delivery medium: the timeline's field is now called "via",
# with its choices. A rename keeps every value; the API still calls it "channel".

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0005_incident_by_integration"),
    ]

    operations = [
        migrations.RenameField(
            model_name="incidentevent",
            old_name="channel",
            new_name="via",
        ),
        migrations.AlterField(
            model_name="incidentevent",
            name="via",
            field=models.CharField(blank=True, choices=[("web", "the dashboard"), ("api", "the API"), ("sms", "SMS reply"), ("voice", "phone keypress"), ("email", "email link"), ("source", "the alarm source"), ("escalation", "escalation")], max_length=16),
        ),
    ]
