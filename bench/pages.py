"""Dashboard page benchmark: server time per page with 100,000 incidents and 1,000,000
Inbound Log rows, against Klaxon on gunicorn + PostgreSQL.

Run from the repository root::

    .venv/bin/python bench/pages.py [--runs 30] [--warmup 3] [--keep-db] [--reuse-db]
                                    [--only REGEX] [--wait-quiet SECONDS] [--strict]

What happens (see bench/README.md, "Page benchmark", for how to read the output):

1. A fresh PostgreSQL database (``klaxon_bench_pages``: dropped and recreated, dropped
   again at the end unless ``--keep-db``) is migrated. Five teams, five integrations and
   twenty responders are made with the ORM; everything else is seeded with set-based SQL
   (INSERT ... SELECT over generate_series, foreign-key triggers off for the session):
   100,000 incidents over the last 90 days (~90 % resolved, ~7 % acknowledged, ~3 %
   triggered), ~300,000 timeline lines, ~200,000 notifications and 1,000,000 Inbound Log
   rows (SNS deliveries of 2-3 KB, Twilio callbacks of 0.3-0.5 KB with no integration).
   Then VACUUM ANALYZE. ``--reuse-db`` skips all this for a database an earlier
   ``--keep-db`` run left (it only migrates and analyses).
2. Each page is requested in this process through Django's test client, inside
   ``CaptureQueriesContext``: the first request's query count (a page may cache), then
   the quickest of three: query count, SQL time and each query's time. A list page's
   htmx poller (``hx-trigger="every ..."``) becomes a page of its own.
3. gunicorn serves Klaxon; a requests.Session signs in through /login/ (CSRF token and
   all) and asks for every page ``--warmup`` times, then ``--runs`` times, the pages taken
   in turn (round robin, so a burst of load elsewhere hits them all alike), one request at
   a time. A poll is sent with HX-Request and the query its page's latest answer asked
   for, as a browser does. The time is the client's wall time over loopback: connect,
   send, and read the whole answer. A ``Server-Timing`` header is read too, if set.
4. A table: p50 / p95 / max per page, PASS or FAIL against p95 <= 150 ms, and for each
   page over the target its slowest queries and the slowest one's EXPLAIN (ANALYZE,
   BUFFERS). Finally a ``BENCH_RESULT {json}`` line. The exit status is 1 when a page
   does not answer 2xx, with ``--strict`` 2 when a page misses the target.
"""

from __future__ import annotations

import argparse
import collections
import html
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests
from ingest import (  # first of the project's imports: puts the repository root on sys.path
    _ALARM_TEMPLATES,
    Config,
    CpuSnapshot,
    _database_url,
    add_wait_quiet_argument,
    drop_database,
    free_port,
    gunicorn,
    manage,
    percentile,
    recreate_database,
    server_config,
    server_env,
    speed_index,
    wait_healthy,
    wait_quiet,
    wait_workers,
)
from psycopg import sql

from tests.sns_peer import SnsPeer

TARGET_P95_MS = 150.0
ADMIN = "bench-admin"
ADMIN_PASSWORD = "bench-admin-password-not-a-secret"
SPAN = timedelta(days=90)

# (team, integration name, AWS account, region code, region name)
INTEGRATIONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("Platform", "Production (eu-west-1)", "111122223333", "eu-west-1", "EU (Ireland)"),
    ("Web", "Staging", "222233334444", "eu-west-1", "EU (Ireland)"),
    ("Payments", "Payments", "333344445555", "us-east-1", "US East (N. Virginia)"),
    ("Data", "Data platform", "444455556666", "eu-central-1", "EU (Frankfurt)"),
    ("Security", "Security (CloudTrail)", "555566667777", "us-west-2", "US West (Oregon)"),
)
RESPONDERS = 20


# --------------------------------------------------------------------------- seeding SQL
#
# Row ids follow time in every table, as in real use: each INSERT sorts by its timestamp.
# Every random() sits in the select list of a subquery of its own, so it is drawn per row.

_SESSION = """
SET work_mem = '512MB';
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;
-- Foreign keys are not checked row by row while seeding (the rows are consistent by
-- construction): three deferred checks per Inbound Log row would double the load time.
SET session_replication_role = replica;
SELECT setseed(0.2026);
"""

_INCIDENTS = """
INSERT INTO incidents_incident (
    integration_id, dedup_key, title, description, details, state, alarm_count,
    created_at, last_seen_at, last_state_change_at, acknowledged_at, acknowledged_by_id,
    resolved_at, resolved_by_id, escalation_snapshot, escalation_step, escalation_round,
    next_escalation_at, escalation_token, escalation_targets)
SELECT
    b.id, arn, alarm, '', jsonb_build_object(
        'alarm_name', alarm, 'description', t.description, 'account_id', b.account,
        'region', b.region, 'region_code', b.code, 'alarm_arn', arn,
        'new_state', 'ALARM', 'old_state', 'OK', 'reason', reason,
        'state_change_time',
            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00',
        'metric_summary', t.metric || ' (CloudTrailMetrics) Sum >= ' || t.threshold
            || ' for 1 x 300 s',
        'console_url', 'https://' || b.code || '.console.aws.amazon.com/cloudwatch/home?region='
            || b.code || '#alarmsV2:alarm/' || alarm,
        'trigger', jsonb_build_object(
            'MetricName', t.metric, 'Namespace', 'CloudTrailMetrics',
            'StatisticType', 'Statistic', 'Statistic', 'SUM', 'Unit', NULL,
            'Dimensions', '[]'::jsonb, 'Period', 300, 'EvaluationPeriods', 1,
            'DatapointsToAlarm', 1, 'ComparisonOperator', 'GreaterThanOrEqualToThreshold',
            'Threshold', t.threshold, 'TreatMissingData', 'notBreaching',
            'EvaluateLowSampleCountPercentile', '')),
    state, alarm_count, created_at, last_seen, last_seen,
    CASE WHEN acked THEN created_at + r_t * interval '10 minutes' END,
    CASE WHEN acked THEN u.id END,
    CASE WHEN state = 'resolved'
        THEN last_seen + interval '5 minutes' + r_t * interval '30 minutes' END,
    CASE WHEN state = 'resolved' AND r_by < 0.4 THEN u.id END,
    CASE WHEN escalated THEN jsonb_build_object(
        'policy', jsonb_build_object('id', 1, 'name', b.team || ' default'),
        'repeat', 0,
        'steps', jsonb_build_array(
            jsonb_build_object('delay_minutes', 15, 'users', jsonb_build_array(
                jsonb_build_object('id', u.id, 'name', u.username)),
                'schedules', '[]'::jsonb, 'teams', '[]'::jsonb),
            jsonb_build_object('delay_minutes', 30, 'users', '[]'::jsonb,
                'schedules', '[]'::jsonb, 'teams', jsonb_build_array(
                    jsonb_build_object('id', b.team_id, 'name', b.team)))))
        ELSE '{}'::jsonb END,
    CASE WHEN escalated THEN 1 ELSE 0 END,
    0,
    NULL,
    CASE WHEN escalated THEN md5(g::text) ELSE '' END,
    CASE WHEN escalated
        THEN jsonb_build_array(jsonb_build_object('id', u.id, 'name', u.username))
        ELSE '[]'::jsonb END
FROM (
    SELECT s.*,
        created_at + (alarm_count - 1) * interval '5 minutes' AS last_seen,
        state = 'acknowledged' OR (state = 'resolved' AND r_ack < 0.12) AS acked,
        r_esc < 0.5 OR g = %(big)s AS escalated,
        'arn:aws:cloudwatch:' || b2.code || ':' || b2.account || ':alarm:' || s.alarm AS arn
    FROM (
        SELECT r.*,
            CASE WHEN g = %(big)s THEN 'acknowledged'
                 WHEN r_state < 0.90 THEN 'resolved'
                 WHEN r_state < 0.97 THEN 'acknowledged'
                 ELSE 'triggered' END AS state,
            CASE WHEN g = %(big)s THEN %(big_alarms)s
                 WHEN r_count < 0.65 THEN 1 WHEN r_count < 0.85 THEN 2
                 WHEN r_count < 0.93 THEN 3 WHEN r_count < 0.97 THEN 4 ELSE 5 END AS alarm_count,
            tt.name || '-' || CASE WHEN r_state < 0.90 AND g <> %(big)s
                THEN 'i-' || substr(md5(mod(g::bigint * 7919, 2400)::text), 1, 12)
                ELSE 'i-' || substr(md5('open' || g), 1, 12) END AS alarm,
            'Threshold Crossed: 1 out of the last 1 datapoints [' || (tt.threshold + 1)
                || ' (' || to_char(created_at AT TIME ZONE 'UTC', 'DD/MM/YY HH24:MI:00')
                || ')] was greater than or equal to the threshold (' || tt.threshold
                || ') (minimum 1 datapoint for OK -> ALARM transition).' AS reason
        FROM (
            SELECT g, random() AS r_state, random() AS r_count, random() AS r_ack,
                random() AS r_by, random() AS r_esc, random() AS r_t,
                1 + mod(g, 5) AS k, 1 + mod(g, 6) AS tpl,
                1 + floor(random() * %(responders)s)::int AS ui,
                %(t0)s::timestamptz + (g - 1 + random()) * (%(span)s::interval / %(n)s)
                    AS created_at
            FROM generate_series(1, %(n)s) AS g
        ) r
        JOIN bench_template tt ON tt.k = r.tpl
    ) s
    JOIN bench_integ b2 ON b2.k = s.k
) x
JOIN bench_integ b ON b.k = x.k
JOIN bench_template t ON t.k = x.tpl
JOIN bench_user u ON u.k = x.ui
ORDER BY g
"""

_EVENTS = """
INSERT INTO incidents_incidentevent (incident_id, kind, at, message, via, data, actor_id)
SELECT incident_id, kind, at, message, via, data, actor_id FROM (
    SELECT i.id AS incident_id,
        CASE WHEN s = 1 THEN 'triggered' ELSE 'appended' END AS kind,
        least(i.created_at + (s - 1) * interval '5 minutes', %(now)s) AS at,
        CASE WHEN s = 1 THEN 'Opened by ' || b.name || '.'
             ELSE 'ALARM: ' || (i.details ->> 'reason') END AS message,
        'source' AS via, '{}'::jsonb AS data, NULL::bigint AS actor_id
    FROM incidents_incident i
    JOIN bench_integ b ON b.id = i.integration_id
    CROSS JOIN LATERAL generate_series(1, i.alarm_count) AS s
  UNION ALL
    SELECT i.id, 'escalated', i.created_at + interval '2 seconds',
        'Step 1 of 2 (round 1 of 1): notifying ' || (i.escalation_targets -> 0 ->> 'name')
            || ' (step 1 names them); next step at '
            || to_char((i.created_at + interval '15 minutes') AT TIME ZONE 'UTC', 'HH24:MI')
            || '.',
        'escalation',
        jsonb_build_object('step', 0, 'round', 0, 'user_ids',
            jsonb_build_array((i.escalation_targets -> 0 ->> 'id')::bigint),
            'why', jsonb_build_array('step 1 names them'),
            'next_escalation_at', i.created_at + interval '15 minutes'),
        NULL
    FROM incidents_incident i WHERE i.escalation_targets <> '[]'::jsonb
  UNION ALL
    SELECT i.id, 'acknowledged', i.acknowledged_at,
        'Acknowledged by ' || u.username || ' via ' || c.channel || '.', c.channel,
        '{}'::jsonb, i.acknowledged_by_id
    FROM incidents_incident i
    JOIN accounts_user u ON u.id = i.acknowledged_by_id
    CROSS JOIN LATERAL (SELECT CASE WHEN mod(i.id, 10) < 6 THEN 'web'
        WHEN mod(i.id, 10) < 9 THEN 'sms' ELSE 'voice' END AS channel) c
  UNION ALL
    SELECT i.id, 'resolved', i.resolved_at,
        CASE WHEN u.id IS NULL
            THEN 'OK: Threshold Crossed: 1 out of the last 1 datapoints [0.0] was not greater '
                || 'than or equal to the threshold (minimum 1 datapoint for ALARM -> OK '
                || 'transition).'
            ELSE 'Resolved by ' || u.username || ' via web.' END,
        CASE WHEN u.id IS NULL THEN 'source' ELSE 'web' END, '{}'::jsonb, u.id
    FROM incidents_incident i
    LEFT JOIN accounts_user u ON u.id = i.resolved_by_id
    WHERE i.state = 'resolved'
) e
ORDER BY at, incident_id
"""

_NOTIFICATIONS = """
INSERT INTO notifications_notification (
    incident_id, user_id, contact_method_id, purpose, channel, destination, subject, body,
    status, due_at, attempts, provider_id, provider_status, error_code, error, outbox,
    reason, dedup_key, link_used_at, created_at, sent_at, updated_at)
SELECT incident_id, u.id, CASE WHEN channel = 'email' THEN u.email_id ELSE u.phone_id END,
    purpose, channel, CASE WHEN channel = 'email' THEN u.email ELSE u.phone END,
    CASE WHEN channel = 'email'
        THEN 'Klaxon #' || incident_id || ' TRIGGERED: ' || title ELSE '' END,
    'Klaxon #' || incident_id || ' ' || upper(purpose) || ': ' || title || '. ' || CASE
        WHEN purpose = 'resolved' THEN 'No action needed.'
        ELSE 'Reply 4' || lpad(mod(incident_id * 37, 1000)::text, 3, '0')
            || ' to acknowledge, 6' || lpad(mod(incident_id * 37, 1000)::text, 3, '0')
            || ' to resolve.' END,
    status, due_at, CASE WHEN status = 'failed' THEN 4 ELSE 1 END,
    CASE channel WHEN 'sms' THEN 'SM' || md5(incident_id || ':' || n)
        WHEN 'voice' THEN 'CA' || md5(incident_id || ':' || n)
        ELSE '<' || md5(incident_id || ':' || n) || '@klaxon.example.com>' END,
    CASE WHEN status = 'delivered' AND channel = 'voice' THEN 'completed'
        WHEN status IN ('delivered', 'sent', 'failed') AND channel <> 'email'
            THEN CASE status WHEN 'failed' THEN 'undelivered' ELSE status END
        ELSE '' END,
    CASE WHEN status = 'failed' THEN '30003' ELSE '' END,
    CASE WHEN status = 'failed' THEN 'Unreachable destination handset' ELSE '' END,
    false,
    CASE WHEN purpose = 'resolved' THEN 'incident resolved'
        ELSE 'escalation step ' || (1 + (n >= 5)::int) || ' of 2 (round 1 of 1)' END,
    'bench:' || incident_id || ':' || n, NULL, due_at, CASE WHEN status IN ('delivered',
        'sent', 'failed') THEN due_at + interval '1 second' END,
    due_at + interval '6 seconds'
FROM (
    SELECT x.*,
        CASE mod(n - 1, 5) WHEN 1 THEN 'voice' WHEN 2 THEN 'email' ELSE 'sms' END AS channel,
        CASE WHEN mod(n - 1, 5) = 3 AND resolved_at IS NOT NULL THEN 'resolved'
            ELSE 'triggered' END AS purpose,
        CASE WHEN mod(n - 1, 5) = 3 AND resolved_at IS NOT NULL THEN resolved_at
            WHEN mod(n - 1, 5) = 1 THEN created_at + interval '5 minutes'
            WHEN mod(n - 1, 5) = 4 THEN created_at + interval '15 minutes'
            ELSE created_at + interval '3 seconds' END AS due_at,
        CASE WHEN r < 0.86 THEN 'delivered' WHEN r < 0.92 THEN 'sent'
            WHEN r < 0.96 THEN 'failed' ELSE 'cancelled' END AS status,
        1 + mod(ui + (n >= 5)::int * 7, %(responders)s) AS uk
    FROM (
        SELECT i.id AS incident_id, i.title, i.created_at, i.resolved_at, n, random() AS r,
            (SELECT k FROM bench_user WHERE id = (i.escalation_targets -> 0 ->> 'id')::bigint)
                AS ui
        FROM incidents_incident i
        CROSS JOIN LATERAL generate_series(1, CASE WHEN i.id = %(big_id)s THEN %(big_pages)s
            ELSE 3 + (random() + i.id * 0 < 0.6)::int + (random() + i.id * 0 < 0.4)::int END)
            AS n
        WHERE i.escalation_targets <> '[]'::jsonb
    ) x
) y
JOIN bench_user u ON u.k = y.uk
ORDER BY due_at, incident_id, n
"""

# The Inbound Log, planned first (what each row is, when it came), written second.
_INBOUND_PLAN = """
CREATE TEMP TABLE bench_inbound (
    received_at timestamptz, source text, k int, incident_id bigint, event_id bigint,
    outcome text, message_type text, reason text, name text, alarm_state text,
    provider_id text, destination text, callback text, r_size int
);
-- A: the alarm messages that opened, appended to or resolved an incident.
INSERT INTO bench_inbound
SELECT e.at - random() * interval '150 milliseconds', 'sns', b.k, i.id, e.id,
    CASE e.kind WHEN 'triggered' THEN 'created' WHEN 'appended' THEN 'appended'
        ELSE 'resolved' END,
    'Notification', '', i.title, CASE WHEN e.kind = 'resolved' THEN 'OK' ELSE 'ALARM' END,
    NULL, NULL, NULL, floor(random() * 30)::int
FROM incidents_incidentevent e
JOIN incidents_incident i ON i.id = e.incident_id
JOIN bench_integ b ON b.id = i.integration_id
WHERE e.via = 'source' AND e.kind IN ('triggered', 'appended', 'resolved');
-- D, E: SNS delivered some again (duplicates), and some came late (stale).
INSERT INTO bench_inbound
SELECT received_at + interval '20 seconds' + random() * interval '60 seconds', 'sns', k,
    incident_id, NULL, o.outcome, 'Notification', o.reason, name, alarm_state, NULL, NULL,
    NULL, r_size
FROM (SELECT *, random() AS r FROM bench_inbound) a
CROSS JOIN LATERAL (SELECT CASE WHEN a.r < 0.30 THEN 'duplicate' ELSE 'stale' END AS outcome,
    CASE WHEN a.r < 0.30 THEN 'MessageId was already applied'
        ELSE 'older than the last state change' END AS reason) o
WHERE a.r < 0.42;
-- B: Twilio status callbacks (no integration), two per SMS or call that went out.
INSERT INTO bench_inbound
SELECT n.sent_at + s * interval '1.7 seconds' + random() * interval '1 second', 'twilio',
    NULL, n.incident_id, NULL, 'status_updated', 'Status callback',
    CASE WHEN s = 1 THEN 'sent' ELSE n.provider_status END, NULL, NULL, n.provider_id,
    n.destination, n.channel, 0
FROM notifications_notification n
CROSS JOIN generate_series(1, 2) AS s
WHERE n.channel IN ('sms', 'voice') AND n.sent_at IS NOT NULL;
-- C: acknowledgements by SMS reply or keypress.
INSERT INTO bench_inbound
SELECT e.at - interval '300 milliseconds', 'twilio', NULL, e.incident_id, NULL,
    'acknowledged', CASE e.via WHEN 'sms' THEN 'SMS reply' ELSE 'Voice' END, '', NULL,
    NULL, 'SM' || md5(e.id::text), '+15005550006', e.via, 0
FROM incidents_incidentevent e
WHERE e.kind = 'acknowledged' AND e.via IN ('sms', 'voice');
-- G: rejected (bad signature, wrong topic, a certificate URL that is not Amazon's).
INSERT INTO bench_inbound
SELECT %(t0)s::timestamptz + random() * %(span)s::interval, 'sns', 1 + floor(random() * 5)::int,
    NULL, NULL, 'rejected', 'Notification', (ARRAY[
        'signature does not verify',
        'TopicArn arn:aws:sns:eu-west-1:999988887777:other is not the subscribed topic',
        'SigningCertURL is not an Amazon SNS certificate URL'])[1 + floor(random() * 3)::int],
    t.name || '-probe-' || g, 'ALARM', NULL, NULL, NULL, floor(random() * 30)::int
FROM generate_series(1, %(rejected)s) AS g
JOIN bench_template t ON t.k = 1 + mod(g, 6);
-- H: each integration's confirmed subscription.
INSERT INTO bench_inbound
SELECT %(t0)s::timestamptz - interval '1 day' + k * interval '1 minute', 'sns', k, NULL, NULL,
    'subscription_confirmed', 'SubscriptionConfirmation', '', NULL, NULL, NULL, NULL, NULL, 0
FROM bench_integ;
"""

# F: the rest are ignored alarm messages (INSUFFICIENT_DATA, OK with nothing open).
_INBOUND_IGNORED = """
INSERT INTO bench_inbound
SELECT %(t0)s::timestamptz + random() * %(span)s::interval, 'sns', 1 + floor(random() * 5)::int,
    NULL, NULL, 'ignored', 'Notification', CASE WHEN random() < 0.5
        THEN 'INSUFFICIENT_DATA is ignored for this integration'
        ELSE 'OK with no open incident' END,
    t.name || '-i-' || substr(md5(mod(g::bigint * 7919, 2400)::text), 1, 12), 'OK',
    NULL, NULL, NULL, floor(random() * 30)::int
FROM generate_series(1, %(count)s) AS g
JOIN bench_template t ON t.k = 1 + mod(g, 6)
"""

# SNS's HTTP delivery: pretty-printed JSON whose Message is the alarm's own JSON, as a
# string. The signature is 256 bytes that look random (four SHA-512s), so bodies do not
# compress much better than real ones. r_size adds datapoints to the reason: 1-3 KB.
_INBOUND_WRITE = """
INSERT INTO integrations_inboundmessage (
    source, integration_id, received_at, source_ip, headers, body, body_size, message_type,
    message_id, applied_message_id, topic_arn, subscribe_url, outcome, reason, confirm_status,
    confirm_result, event_id, incident_id)
SELECT source, integration_id, received_at, source_ip::inet,
    CASE WHEN source = 'sns' THEN jsonb_build_object(
        'Host', 'klaxon.example.com', 'X-Real-Ip', source_ip, 'X-Forwarded-For', source_ip,
        'X-Forwarded-Proto', 'https', 'Connection', 'close',
        'Content-Length', octet_length(body)::text,
        'Content-Type', 'text/plain; charset=UTF-8',
        'User-Agent', 'Amazon Simple Notification Service Agent',
        'Accept-Encoding', 'gzip,deflate', 'X-Amz-Sns-Message-Type', message_type,
        'X-Amz-Sns-Message-Id', mid, 'X-Amz-Sns-Topic-Arn', topic,
        'X-Amz-Sns-Subscription-Arn', topic || ':' || md5(topic))
    ELSE jsonb_build_object(
        'Host', 'klaxon.example.com', 'X-Real-Ip', source_ip, 'X-Forwarded-For', source_ip,
        'X-Forwarded-Proto', 'https', 'Connection', 'close',
        'Content-Length', octet_length(body)::text,
        'Content-Type', 'application/x-www-form-urlencoded',
        'User-Agent', 'TwilioProxy/1.1', 'Accept', '*/*', 'Cache-Control', 'max-age=259200',
        'I-Twilio-Idempotency-Token', mid,
        'X-Twilio-Signature', substr(sig, 1, 28)) END,
    body, octet_length(body), message_type, mid,
    CASE WHEN outcome IN ('created', 'appended', 'resolved') THEN mid END,
    CASE WHEN source = 'sns' THEN topic ELSE '' END, '', outcome, reason,
    CASE WHEN outcome = 'subscription_confirmed' THEN 200 END,
    CASE WHEN outcome = 'subscription_confirmed' THEN 'Subscription confirmed' ELSE '' END,
    event_id, incident_id
FROM (
    SELECT p.*, CASE WHEN message_type = 'SubscriptionConfirmation' THEN
        E'{\\n  "Type" : "SubscriptionConfirmation",\\n  "MessageId" : "' || mid
        || E'",\\n  "Token" : "' || md5(mid) || md5(topic) || md5(sig)
        || E'",\\n  "TopicArn" : "' || topic
        || E'",\\n  "Message" : "You have chosen to subscribe to the topic ' || topic
        || E'.\\nTo confirm the subscription, visit the SubscribeURL included in this message."'
        || E',\\n  "SubscribeURL" : "https://sns.' || code
        || '.amazonaws.com/?Action=ConfirmSubscription&TopicArn=' || topic || '&Token='
        || md5(mid) || E'",\\n  "Timestamp" : "' || to_char(received_at AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        || E'",\\n  "SignatureVersion" : "1",\\n  "Signature" : "' || sig
        || E'",\\n  "SigningCertURL" : "https://sns.' || code
        || '.amazonaws.com/SimpleNotificationService-' || md5(code) || E'.pem"\\n}'
    WHEN source = 'sns' THEN
        E'{\\n  "Type" : "' || message_type || E'",\\n  "MessageId" : "' || mid
        || E'",\\n  "TopicArn" : "' || topic
        || E'",\\n  "Subject" : ' || to_json(alarm_state || ': "' || coalesce(name, '') || '" in '
            || region)::text
        || E',\\n  "Message" : ' || to_json(json_build_object(
            'AlarmName', name, 'AlarmDescription', description, 'AWSAccountId', account,
            'AlarmConfigurationUpdatedTimestamp', '2026-08-02T09:12:44.101+0000',
            'NewStateValue', alarm_state,
            'NewStateReason', 'Threshold Crossed: ' || (r_size + 1)
                || ' out of the last ' || (r_size + 1) || ' datapoints ['
                || repeat(threshold + 1 || ' (' || stamp || '), ', r_size)
                || threshold + 1 || ' (' || stamp || ')] was greater than or equal to the '
                || 'threshold (' || threshold || ') (minimum 1 datapoint for OK -> '
                || alarm_state || ' transition).',
            'StateChangeTime', to_char(received_at AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.MS') || '+0000',
            'Region', region, 'AlarmArn', 'arn:aws:cloudwatch:' || code || ':' || account
                || ':alarm:' || name,
            'OldStateValue', CASE alarm_state WHEN 'OK' THEN 'ALARM' ELSE 'OK' END,
            'OKActions', json_build_array(topic), 'AlarmActions', json_build_array(topic),
            'InsufficientDataActions', '[]'::json,
            'Trigger', json_build_object(
                'MetricName', metric, 'Namespace', 'CloudTrailMetrics',
                'StatisticType', 'Statistic', 'Statistic', 'SUM', 'Unit', NULL,
                'Dimensions', '[]'::json, 'Period', 300, 'EvaluationPeriods', 1,
                'DatapointsToAlarm', 1,
                'ComparisonOperator', 'GreaterThanOrEqualToThreshold',
                'Threshold', threshold, 'TreatMissingData', 'notBreaching',
                'EvaluateLowSampleCountPercentile', ''))::text)::text
        || E',\\n  "Timestamp" : "' || to_char(received_at AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        || E'",\\n  "SignatureVersion" : "1",\\n  "Signature" : "' || sig
        || E'",\\n  "SigningCertURL" : "https://sns.' || code
        || '.amazonaws.com/SimpleNotificationService-' || md5(code)
        || E'.pem",\\n  "UnsubscribeURL" : "https://sns.' || code
        || '.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=' || topic || ':' || md5(topic)
        || E'"\\n}'
    WHEN callback = 'voice' AND outcome = 'status_updated' THEN
        'Called=' || replace(destination, '+', '%%2B') || '&ToState=CA&CallerCountry=US'
        || '&Direction=outbound-api&Timestamp=' || replace(to_char(received_at AT TIME ZONE
            'UTC', 'Dy, DD Mon YYYY HH24:MI:SS'), ' ', '+') || '+%%2B0000'
        || '&CallbackSource=call-progress-events&SipResponseCode=200&CallerState=CA'
        || '&SequenceNumber=' || (CASE reason WHEN 'sent' THEN 1 ELSE 3 END)
        || '&CallSid=' || provider_id || '&To=' || replace(destination, '+', '%%2B')
        || '&ToCountry=US&ApiVersion=2010-04-01&CallStatus='
        || CASE reason WHEN 'sent' THEN 'ringing' ELSE reason END
        || '&Duration=1&From=%%2B15005550006&CallDuration=24&AccountSid=AC' || md5('acct')
        || '&CalledCountry=US&FromCountry=US&Caller=%%2B15005550006&CalledState=CA'
        || '&FromState=CA'
    WHEN outcome = 'status_updated' THEN
        'SmsSid=' || provider_id || '&SmsStatus=' || reason || '&MessageStatus=' || reason
        || '&To=' || replace(destination, '+', '%%2B') || '&MessagingServiceSid=MG'
        || md5('service') || '&MessageSid=' || provider_id || '&AccountSid=AC' || md5('acct')
        || '&From=%%2B15005550006&ApiVersion=2010-04-01'
    ELSE
        'ToCountry=US&ToState=CA&SmsMessageSid=' || provider_id || '&NumMedia=0'
        || '&ToCity=&FromZip=&SmsSid=' || provider_id || '&FromState=CA&SmsStatus=received'
        || '&FromCity=&Body=4' || lpad(mod(incident_id * 37, 1000)::text, 3, '0')
        || '&FromCountry=US&To=%%2B15005550006&ToZip=&NumSegments=1&MessageSid=' || provider_id
        || '&AccountSid=AC' || md5('acct') || '&From=%%2B15005550001&ApiVersion=2010-04-01'
    END AS body
    FROM (
        SELECT q.*, gen_random_uuid()::text AS mid,
            to_char(q.received_at AT TIME ZONE 'UTC', 'DD/MM/YY HH24:MI:00') AS stamp,
            CASE WHEN q.source = 'sns'
                THEN '54.240.' || (196 + mod(q.rn, 4)) || '.' || (1 + mod(q.rn * 7, 250))
                ELSE '54.172.60.' || (1 + mod(q.rn, 250)) END AS source_ip,
            replace(encode(sha512(q.rn::text::bytea) || sha512((q.rn || 'b')::bytea)
                || sha512((q.rn || 'c')::bytea) || sha512((q.rn || 'd')::bytea), 'base64'),
                E'\\n', '') AS sig
        FROM (
            -- The window's sort is the insert order: ids follow received_at.
            SELECT bi.*, b.id AS integration_id, b.account, b.code, b.region, b.topic,
                t.description, t.metric, t.threshold,
                row_number() OVER (ORDER BY bi.received_at) AS rn
            FROM bench_inbound bi
            LEFT JOIN bench_integ b ON b.k = bi.k
            LEFT JOIN bench_template t ON t.name = split_part(bi.name, '-', 1)
        ) q
    ) p
) w
"""


# --------------------------------------------------------------------------- options


@dataclass
class Options:
    incidents: int
    inbound: int
    big_alarms: int
    big_pages: int
    rejected: int
    runs: int
    warmup: int
    workers: int
    pg: str
    db_name: str
    broker: str
    keep_db: bool
    reuse_db: bool
    strict: bool
    wait_quiet: float
    only: str
    settings: str

    def ingest_config(self) -> Config:
        """The settings bench/ingest.py's helpers take (database, gunicorn, environment)."""
        return server_config(
            workers=self.workers,
            pg=self.pg,
            db_name=self.db_name,
            broker=self.broker,
            keep_db=self.keep_db,
            strict=self.strict,
            wait_quiet=self.wait_quiet,
            settings=self.settings,
            warmup=self.warmup,
            alarms=0,
            concurrency=1,
        )


# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    """What the pages are asked about: ids picked from the seeded data."""

    counts: dict[str, int]
    middle_incident: int
    big_incident: int
    big_events: int
    big_pages: int
    middle_inbound: int
    middle_notification: int
    inbound_detail: int
    inbound_detail_size: int
    integration: int
    team: int
    seconds: float


def _bootstrap_django(env: dict[str, str]) -> None:
    """Django in this process, on the bench database (for the ORM setup and query counts)."""
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    import django

    django.setup()


def create_people() -> None:
    """Admin, responders (phone + email), teams and integrations: few rows, so the ORM."""
    from accounts.models import ContactMethod, Team, User
    from integrations.models import Integration

    User.objects.create_superuser(ADMIN, f"{ADMIN}@example.com", ADMIN_PASSWORD)
    users = User.objects.bulk_create(
        User(
            username=f"responder{i:02d}",
            first_name=f"Responder {i:02d}",
            email=f"responder{i:02d}@example.com",
            password="!",
        )
        for i in range(1, RESPONDERS + 1)
    )
    now = datetime.now(UTC)
    ContactMethod.objects.bulk_create(
        [
            ContactMethod(user=u, kind=ContactMethod.Kind.PHONE, value=f"+1500555{i:04d}",
                          verified_at=now)
            for i, u in enumerate(users, start=1)
        ]
        + [ContactMethod(user=u, kind=ContactMethod.Kind.EMAIL, value=u.email) for u in users]
    )  # fmt: skip
    for team_name, name, account, code, _ in INTEGRATIONS:
        team = Team.objects.create(name=team_name)
        Integration.objects.create(
            name=name,
            team=team,
            subscription_status=Integration.Subscription.CONFIRMED,
            topic_arn=f"arn:aws:sns:{code}:{account}:klaxon-alarms",
            subscription_arn=f"arn:aws:sns:{code}:{account}:klaxon-alarms:sub",
        )


def _lookup_tables(conn: psycopg.Connection[Any]) -> None:
    """Small temporary tables the INSERTs join: integrations, alarm templates, users."""
    conn.execute(
        "CREATE TEMP TABLE bench_integ (k int, id bigint, name text, team_id bigint, team text, "
        "account text, code text, region text, topic text)"
    )
    for k, (team, name, account, code, region) in enumerate(INTEGRATIONS, start=1):
        conn.execute(
            "INSERT INTO bench_integ SELECT %s, i.id, i.name, t.id, t.name, %s, %s, %s, "
            "i.topic_arn FROM integrations_integration i JOIN accounts_team t "
            "ON t.id = i.team_id WHERE i.name = %s AND t.name = %s",
            (k, account, code, region, name, team),
        )
    conn.execute(
        "CREATE TEMP TABLE bench_template (k int, name text, description text, metric text, "
        "threshold float8)"
    )
    for k, (name, description, metric, threshold) in enumerate(_ALARM_TEMPLATES, start=1):
        conn.execute(
            "INSERT INTO bench_template VALUES (%s, %s, %s, %s, %s)",
            (k, name, description, metric, threshold),
        )
    conn.execute(
        "CREATE TEMP TABLE bench_user AS SELECT row_number() OVER (ORDER BY u.id)::int AS k, "
        "u.id, u.username, p.id AS phone_id, p.value AS phone, e.id AS email_id, "
        "e.value AS email FROM accounts_user u "
        "JOIN accounts_contactmethod p ON p.user_id = u.id AND p.kind = 'phone' "
        "JOIN accounts_contactmethod e ON e.user_id = u.id AND e.kind = 'email' "
        "WHERE u.username LIKE 'responder%'"
    )


def seed(opts: Options, cfg: Config) -> None:
    now = datetime.now(UTC)
    t0 = now - SPAN
    big = opts.incidents // 2 + 7
    common = {
        "t0": t0,
        "now": now,
        "span": SPAN,
        "n": opts.incidents,
        "big": big,
        "big_alarms": opts.big_alarms,
        "responders": RESPONDERS,
    }
    with psycopg.connect(_database_url(cfg, cfg.db_name), autocommit=True) as conn:
        conn.execute(_SESSION)
        _lookup_tables(conn)

        def step(label: str, query: str, params: dict[str, Any]) -> int:
            began = time.perf_counter()
            cur = conn.execute(query, params)
            print(f"    {label:<28} {cur.rowcount:>9,} rows  {time.perf_counter() - began:6.1f} s")
            return cur.rowcount

        step("incidents", _INCIDENTS, common)
        big_id = conn.execute(
            "SELECT id FROM incidents_incident WHERE alarm_count = %s ORDER BY id LIMIT 1",
            (opts.big_alarms,),
        ).fetchone()
        assert big_id is not None
        step("timeline events", _EVENTS, common)
        step(
            "notifications",
            _NOTIFICATIONS,
            common | {"big_id": big_id[0], "big_pages": opts.big_pages},
        )
        began = time.perf_counter()
        for statement in _INBOUND_PLAN.split(";\n"):
            if statement.strip():
                conn.execute(statement, common | {"rejected": opts.rejected})
        planned = conn.execute("SELECT count(*) FROM bench_inbound").fetchone()
        assert planned is not None
        conn.execute(_INBOUND_IGNORED, common | {"count": max(0, opts.inbound - planned[0])})
        print(f"    {'inbound log (plan)':<28} {opts.inbound:>9,} rows  ", end="")
        print(f"{time.perf_counter() - began:6.1f} s")
        step("inbound log (write)", _INBOUND_WRITE, {})
        began = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"    {'VACUUM ANALYZE':<28} {'':>9}       {time.perf_counter() - began:6.1f} s")


def describe(cfg: Config, seconds: float) -> Seeded:
    """Counts and the ids the pages use, read back from the database."""
    with psycopg.connect(_database_url(cfg, cfg.db_name)) as conn:

        def one(query: str | sql.Composed, *params: object) -> Any:
            row = conn.execute(query, params).fetchone()
            assert row is not None, query
            return row[0] if len(row) == 1 else row

        counts = {
            table: int(one(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))))
            for table in (
                "incidents_incident",
                "incidents_incidentevent",
                "notifications_notification",
                "integrations_inboundmessage",
            )
        }
        for state, n in conn.execute(
            "SELECT state, count(*) FROM incidents_incident GROUP BY state ORDER BY state"
        ).fetchall():
            counts[f"incidents_{state}"] = int(n)
        counts["inbound_twilio"] = int(
            one("SELECT count(*) FROM integrations_inboundmessage WHERE integration_id IS NULL")
        )
        counts["inbound_linked"] = int(
            one("SELECT count(*) FROM integrations_inboundmessage WHERE incident_id IS NOT NULL")
        )
        counts["db_mb"] = int(one("SELECT pg_database_size(current_database())")) // 2**20
        big_incident, big_events = one(
            "SELECT incident_id, count(*) FROM incidents_incidentevent GROUP BY incident_id "
            "ORDER BY count(*) DESC LIMIT 1"
        )
        big_pages = int(
            one("SELECT count(*) FROM notifications_notification WHERE incident_id = %s",
                big_incident)
        )  # fmt: skip
        middle_incident = int(
            one("SELECT id FROM incidents_incident ORDER BY id OFFSET %s LIMIT 1",
                counts["incidents_incident"] // 2)
        )  # fmt: skip
        middle_inbound = int(
            one("SELECT id FROM integrations_inboundmessage ORDER BY id OFFSET %s LIMIT 1",
                counts["integrations_inboundmessage"] // 2)
        )  # fmt: skip
        middle_notification = int(
            one("SELECT id FROM notifications_notification ORDER BY id OFFSET %s LIMIT 1",
                counts["notifications_notification"] // 2)
        )  # fmt: skip
        inbound_detail, inbound_size = one(
            "SELECT id, body_size FROM integrations_inboundmessage WHERE id >= %s AND "
            "event_id IS NOT NULL ORDER BY body_size DESC, id LIMIT 1",
            middle_inbound,
        )
        integration, team = one(
            "SELECT id, team_id FROM integrations_integration ORDER BY id LIMIT 1"
        )
    return Seeded(
        counts=counts,
        middle_incident=middle_incident,
        big_incident=int(big_incident),
        big_events=int(big_events),
        big_pages=big_pages,
        middle_inbound=middle_inbound,
        middle_notification=middle_notification,
        inbound_detail=int(inbound_detail),
        inbound_detail_size=int(inbound_size),
        integration=int(integration),
        team=int(team),
        seconds=seconds,
    )


# --------------------------------------------------------------------------- pages


@dataclass
class Page:
    name: str
    path: str
    htmx: bool = False
    # A poll: its URL is taken afresh from the page's latest answer, as a browser does.
    parent: Page | None = None
    # Filled in by the in-process check and the timed run.
    queries: int | None = None
    first_queries: int | None = None  # the first request's (a page may cache its work)
    sql_ms: float = 0.0
    inproc_ms: float = 0.0
    slowest_sql: str = ""
    slowest_ms: float = 0.0
    timed_sql: list[tuple[float, str]] = field(default_factory=list)
    status: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    last_text: str = ""
    size: int = 0
    stub: bool = False
    times: list[float] = field(default_factory=list)
    server_timing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true", "HX-Current-URL": "http://127.0.0.1/"} if self.htmx else {}

    def pct(self, q: float) -> float:
        return percentile(sorted(self.times), q) * 1000 if self.times else float("nan")

    @property
    def passed(self) -> bool:
        return bool(self.times) and self.ok and self.pct(95) <= TARGET_P95_MS

    @property
    def ok(self) -> bool:
        """Answered 2xx (an htmx poll answers 204 when nothing changed)."""
        return bool(self.statuses) and all(200 <= s < 300 for s in self.statuses)

    def url(self) -> str:
        if self.parent is not None and self.parent.last_text:
            return poll_url(self.parent.last_text) or self.path
        return self.path


def pages(seeded: Seeded) -> list[Page]:
    mid, big = seeded.middle_incident, seeded.big_incident
    integ = seeded.integration
    return [
        Page("incidents: open", "/incidents/"),
        Page("incidents: triggered", "/incidents/?state=triggered"),
        Page("incidents: acknowledged", "/incidents/?state=acknowledged"),
        Page("incidents: resolved", "/incidents/?state=resolved"),
        Page("incidents: all", "/incidents/?state=all"),
        Page("incidents: older (?before)", f"/incidents/?before={mid}"),
        Page("incidents: all, older (?before)", f"/incidents/?state=all&before={mid}"),
        Page("incidents: open, one integration", f"/incidents/?state=open&integration={integ}"),
        Page("incidents: all, one team", f"/incidents/?state=all&team={seeded.team}"),
        Page("incident detail (big)", f"/incidents/{big}/"),
        Page("incident detail (typical)", f"/incidents/{mid}/"),
        Page("inbound log", "/integrations/inbound-log/"),
        Page("inbound log: integration", f"/integrations/inbound-log/?integration={integ}"),
        Page("inbound log: outcome", "/integrations/inbound-log/?outcome=rejected"),
        Page(
            "inbound log: integ+outcome",
            f"/integrations/inbound-log/?integration={integ}&outcome=rejected",
        ),
        Page("inbound log: older (?before)", f"/integrations/inbound-log/?before={mid}"),
        Page("inbound detail", f"/integrations/inbound-log/{seeded.inbound_detail}/"),
        Page("outbox", "/notifications/outbox/"),
        Page(
            "outbox: older (?before)",
            f"/notifications/outbox/?before={seeded.middle_notification}",
        ),
        Page("outbox: failed", "/notifications/outbox/?status=failed"),
        Page("reports ?days=90", "/reports/?days=90"),
        Page("audit log", "/audit/"),
    ]


_HX_POLL = re.compile(r'hx-get="([^"]+)"[^>]*hx-trigger="[^"]*every', re.S)
_HX_POLL_REVERSED = re.compile(r'hx-trigger="[^"]*every[^"]*"[^>]*hx-get="([^"]+)"', re.S)


def poll_url(text: str) -> str | None:
    """The query an htmx poller on the page asks ("every Ns"), as the browser sends it."""
    match = _HX_POLL.search(text) or _HX_POLL_REVERSED.search(text)
    return html.unescape(match.group(1)) if match else None


def is_stub(text: str, content_type: str) -> bool:
    """A placeholder view ("not written yet"), not a page."""
    return "not written yet" in text.lower() or "html" not in content_type


def count_queries(page_list: list[Page]) -> list[Page]:
    """Each page once through Django's test client against the bench database: query count,
    SQL time, slowest query. Returns the htmx polls found on list pages, as pages."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=ADMIN))
    durations: list[float] = []

    def timer(execute: Any, query: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            durations.append((time.perf_counter() - began) * 1000)

    polls: list[Page] = []
    todo = list(page_list)
    while todo:
        page = todo.pop(0)
        with CaptureQueriesContext(connection) as first:  # warms templates, session, caches
            client.get(page.path, headers=page.headers)
        page.first_queries = len(first.captured_queries)
        page.inproc_ms = float("inf")
        for _ in range(3):  # the quickest of three, so a burst of load elsewhere does not count
            durations.clear()
            with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timer):
                began = time.perf_counter()
                response = client.get(page.path, headers=page.headers)
                elapsed = (time.perf_counter() - began) * 1000
            if elapsed >= page.inproc_ms:
                continue
            page.inproc_ms = elapsed
            page.queries = len(ctx.captured_queries)
            # The statements as sent (parameters inlined), with their time measured here.
            timed = list(zip(durations, (q["sql"] for q in ctx.captured_queries), strict=False))
            page.sql_ms = sum(durations)
            page.timed_sql = sorted(timed, reverse=True)
            if timed:
                page.slowest_ms, page.slowest_sql = page.timed_sql[0]
        text = response.content.decode(errors="replace")
        if not page.htmx and response.status_code == 200:
            url = poll_url(text)
            if url is not None:
                poll = Page(f"  poll of {page.name}", url, htmx=True, parent=page)
                polls.append(poll)
                todo.insert(0, poll)
    return polls


def explain(cfg: Config, query: str) -> str:
    with psycopg.connect(_database_url(cfg, cfg.db_name)) as conn:
        rows = conn.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + sql.SQL(query)).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def sign_in(base: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy for loopback
    form = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, "no CSRF token on /login/"
    answer = session.post(
        f"{base}/login/",
        data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": token[1]},
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"sign-in failed: {answer.status_code} {answer.text[:300]}")
    return session


def fetch(session: requests.Session, base: str, page: Page) -> float:
    url = page.url()
    began = time.perf_counter()
    response = session.get(base + url, headers=page.headers, allow_redirects=False)
    body = response.content
    elapsed = time.perf_counter() - began
    page.status = response.status_code
    page.statuses[response.status_code] += 1
    page.size = len(body)
    page.last_text = response.text
    page.stub = is_stub(page.last_text, response.headers.get("Content-Type", ""))
    timing = response.headers.get("Server-Timing")
    if timing:
        page.server_timing.append(timing)
    if not page.ok and len(page.errors) < 3:
        page.errors.append(f"{response.status_code} {response.headers.get('Location', '')}")
    return elapsed


def time_pages(session: requests.Session, base: str, page_list: list[Page], opts: Options) -> None:
    for _ in range(opts.warmup):
        for page in page_list:
            fetch(session, base, page)
    for page in page_list:
        page.server_timing.clear()
        page.statuses.clear()
    for _ in range(opts.runs):
        for page in page_list:
            page.times.append(fetch(session, base, page))


# --------------------------------------------------------------------------- report


def _f(value: float) -> str:
    return f"{value:7.1f}"


def report(page_list: list[Page]) -> None:
    print(
        f"\n{'page':<40} {'status':>6} {'KB':>6} {'SQL':>5} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'max ms':>7}  {'app ms':>6} {'SQL ms':>6} {'slowest':>7}  result"
    )
    for page in page_list:
        result = "PASS" if page.passed else "FAIL"
        if page.stub:
            result += " (in progress: placeholder view)"
        queries = "-" if page.queries is None else str(page.queries)
        if page.first_queries is not None and page.first_queries != page.queries:
            queries += f"/{page.first_queries}"
        common = page.statuses.most_common(1)[0][0] if page.statuses else page.status
        status = f"{common}{'*' if len(page.statuses) > 1 else ''}"
        print(
            f"{page.name:<40} {status:>6} {page.size / 1024:6.1f} {queries:>5} "
            f"{_f(page.pct(50))} {_f(page.pct(95))} {_f(page.pct(100))}  "
            f"{page.inproc_ms:6.1f} {page.sql_ms:6.1f} {page.slowest_ms:7.1f}  {result}"
        )
        if len(page.statuses) > 1:
            answers = ", ".join(f"{n} x {code}" for code, n in sorted(page.statuses.items()))
            print(f"{'':<42}answers: {answers}")
        if page.server_timing:
            print(f"{'':<42}Server-Timing (last): {page.server_timing[-1]}")
        for error in page.errors:
            print(f"{'':<42}answer: {error}")
    print(
        "\n(p50/p95/max: client wall time over loopback, one request at a time; KB: the last "
        "answer's size;\n SQL: queries per request (/n: n on the first, uncached request); "
        "app ms: the whole request in-process, SQL ms: its queries, slowest: the slowest "
        "query;\n status * = mixed answers, listed below the row)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--incidents", type=int, default=100_000, help="incidents (100000)")
    parser.add_argument("--inbound", type=int, default=1_000_000, help="Inbound Log rows (1M)")
    parser.add_argument(
        "--big-alarms", type=int, default=1000, help="alarms on the big incident (1000)"
    )
    parser.add_argument(
        "--big-pages", type=int, default=100, help="notifications of the big incident (100)"
    )
    parser.add_argument("--rejected", type=int, default=20_000, help="rejected rows (20000)")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (30)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per page (3)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL"
    )
    parser.add_argument(
        "--db-name",
        default="klaxon_bench_pages",
        help="database to (re)create; must contain 'bench'",
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3", help="Celery broker")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench DB afterwards")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="use the database an earlier --keep-db run seeded (migrate + ANALYZE only)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 2 when a page misses")
    add_wait_quiet_argument(parser)
    parser.add_argument("--only", default="", help="time only pages whose name matches REGEX")
    parser.add_argument(
        "--settings", default="config.settings", help="DJANGO_SETTINGS_MODULE for the server"
    )
    args = parser.parse_args(argv)
    opts = Options(**vars(args))
    if "bench" not in opts.db_name:
        parser.error("--db-name must contain 'bench': the database is dropped and recreated")
    if opts.incidents < 10 or opts.runs < 1 or opts.workers < 1:
        parser.error("--incidents must be >= 10, --runs and --workers >= 1")

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    cfg = opts.ingest_config()
    peer = SnsPeer().start()  # only for the environment's certificate URL patterns
    try:
        print(f"Klaxon page benchmark (database {cfg.db_name})")
        if not opts.reuse_db:
            recreate_database(cfg)
        try:
            with tempfile.TemporaryDirectory(prefix="klaxon-bench-pages-") as tmp:
                return _run(opts, cfg, peer, Path(tmp))
        finally:
            if not opts.keep_db:
                drop_database(cfg)
    finally:
        peer.stop()


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _run(opts: Options, cfg: Config, peer: SnsPeer, tmp: Path) -> int:
    env = server_env(cfg, tmp / "var", peer)
    began = time.perf_counter()
    manage(env, "migrate", "--no-input", "-v", "0")
    _bootstrap_django(env)
    if opts.reuse_db:
        with psycopg.connect(_database_url(cfg, cfg.db_name), autocommit=True) as conn:
            conn.execute("ANALYZE")
        print(f"  reused the seeded database; migrated and analysed in "
              f"{time.perf_counter() - began:.1f} s")  # fmt: skip
    else:
        create_people()
        print(f"  migrated, people and integrations in {time.perf_counter() - began:.1f} s")
        print("  seeding (set-based SQL):")
        seed(opts, cfg)
    seeded = describe(cfg, time.perf_counter() - began)
    c = seeded.counts
    print(
        f"  data: {c['incidents_incident']:,} incidents (resolved "
        f"{c.get('incidents_resolved', 0):,}, acknowledged {c.get('incidents_acknowledged', 0):,}"
        f", triggered {c.get('incidents_triggered', 0):,}), "
        f"{c['incidents_incidentevent']:,} timeline lines, "
        f"{c['notifications_notification']:,} notifications, "
        f"{c['integrations_inboundmessage']:,} inbound rows ({c['inbound_linked']:,} linked to "
        f"an incident, {c['inbound_twilio']:,} Twilio); database {c['db_mb']:,} MB; "
        f"ready after {seeded.seconds:.0f} s"
    )
    print(
        f"  big incident #{seeded.big_incident}: {seeded.big_events} timeline lines, "
        f"{seeded.big_pages} notifications; middle incident #{seeded.middle_incident}; "
        f"inbound detail #{seeded.inbound_detail} ({seeded.inbound_detail_size} B body)"
    )

    page_list = pages(seeded)
    polls = count_queries(page_list)
    # Each poll right after its page in the table.
    ordered: list[Page] = []
    for page in page_list:
        ordered.append(page)
        ordered += [p for p in polls if p.name == f"  poll of {page.name}"]
    page_list = ordered
    if opts.only:
        page_list = [p for p in page_list if re.search(opts.only, p.name)]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp / "gunicorn.log"
    with gunicorn(cfg, env, port, log_path) as proc:
        wait_healthy(proc, port, log_path)
        workers = wait_workers(proc.pid, cfg.workers)
        print(f"  gunicorn on 127.0.0.1:{port}: master {proc.pid}, {len(workers)} sync workers")
        session = sign_in(base)
        quiet = wait_quiet(opts.wait_quiet)
        speed = speed_index()
        load = os.getloadavg()
        print(
            f"  machine busy just before timing (other processes): {100 * quiet:.0f}%; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; speed index "
            f"{speed:.1f} ms (lower is faster)"
        )
        before = CpuSnapshot.take([], [])
        began = time.perf_counter()
        time_pages(session, base, page_list, opts)
        duration = time.perf_counter() - began
        after = CpuSnapshot.take([], [])
        speed_after = speed_index()
    busy = after.busy - before.busy
    idle = after.idle - before.idle
    during = busy / max(1e-9, busy + idle)
    log_text = log_path.read_text(errors="replace")

    report(page_list)
    print(
        f"timed {opts.runs} x {len(page_list)} requests (after {opts.warmup} warm-ups each) in "
        f"{duration:.1f} s; machine busy during: {100 * during:.0f}% of {os.cpu_count()} cores "
        f"(one request at a time uses about one); speed index before / after "
        f"{speed:.1f} / {speed_after:.1f} ms"
    )
    if any(word in log_text for word in ("Traceback", "ERROR", "CRITICAL")):
        print("\ngunicorn log (tail):")
        print(log_text[-3000:])

    missed = [p for p in page_list if not p.passed]
    for page in missed:
        if not page.timed_sql:
            continue
        print(
            f"\n'{page.name.strip()}' over target: {page.queries} queries, {page.sql_ms:.1f} ms "
            f"of SQL in a {page.inproc_ms:.1f} ms request (in-process); the slowest:"
        )
        for ms, query in page.timed_sql[:5]:
            print(f"  {ms:8.1f} ms  {query[:150]}")
        print(f"EXPLAIN (ANALYZE, BUFFERS) of the slowest:\n{textwrap_sql(page.slowest_sql)}")
        print(explain(cfg, page.slowest_sql))

    real = [p for p in page_list if not p.stub]
    failed = [p.name for p in real if not p.passed]
    print(
        f"\ntarget p95 <= {TARGET_P95_MS:.0f} ms: "
        + ("MET on every page" if not failed else f"MISSED on {len(failed)}: {', '.join(failed)}")
        + (
            f" ({sum(p.stub for p in page_list)} placeholder pages in progress)"
            if any(p.stub for p in page_list)
            else ""
        )
    )
    summary = {
        "counts": c,
        "runs": opts.runs,
        "workers": opts.workers,
        "machine_busy_before_pct": round(100 * quiet, 1),
        "machine_busy_during_pct": round(100 * during, 1),
        "load_average": [round(x, 2) for x in load],
        "speed_index_ms": round(speed, 1),
        "speed_index_after_ms": round(speed_after, 1),
        "pages": {
            p.name.strip(): {
                "path": p.path,
                "status": p.status,
                "queries": p.queries,
                "queries_first_request": p.first_queries,
                "p50_ms": round(p.pct(50), 1),
                "p95_ms": round(p.pct(95), 1),
                "max_ms": round(p.pct(100), 1),
                "mean_ms": round(statistics.fmean(p.times) * 1000, 1) if p.times else None,
                "result": "PASS" if p.passed else "FAIL",
                "in_progress": p.stub,
            }
            for p in page_list
        },
        "target": "MET" if not failed else "MISSED",
    }
    print("BENCH_RESULT " + json.dumps(summary))
    if not all(p.ok for p in page_list):
        return 1
    if opts.strict and failed:
        return 2
    return 0


def textwrap_sql(query: str, limit: int = 1500) -> str:
    return query if len(query) <= limit else query[:limit] + " ..."


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: gunicorn was stopped")
