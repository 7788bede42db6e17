"""The dashboard pages: incidents, integrations and the Inbound Log, the Outbox, profile,
reports, audit log, teams, settings, and how many queries each page costs."""
