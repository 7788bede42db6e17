"""Importers from Opsgenie and Grafana OnCall (issue 16).

``opsgenie_api`` / ``oncall_api`` read a source's REST API (or an export file with the
same shapes), ``opsgenie`` / ``oncall`` convert what they read into a source-neutral
``plan.ImportPlan`` (pure), and ``verify`` checks that each converted schedule puts the
same people on call as the source says. Writing the plan to the database and the
``import_opsgenie`` / ``import_grafana_oncall`` commands come on top of these.
"""
