"""Generated AWS setup for an integration: CloudFormation, an AWS CLI script, Terraform.

Build a :class:`SetupSpec` (it refuses values AWS would refuse, with a message naming
the problem) and pass it to :func:`cloudformation`, :func:`cli_script` or
:func:`terraform`; each returns the file's text. All three create the same resources:
a metric filter and alarm per detection (ALARM and OK to the topic), the SNS topic with
an HTTP/S subscription to the integration's URL that retries for about an hour
(:data:`DELIVERY_POLICY`), a dead-letter queue with an alarm on it, and optionally an
EventBridge rule sending CloudTrail events to the same topic.

Pure: no Django, no database, no network.
"""

from __future__ import annotations

from aws.setup.cli import cli_script
from aws.setup.cloudformation import cloudformation
from aws.setup.spec import DELIVERY_POLICY, SetupError, SetupSpec, delivery_retry_seconds
from aws.setup.terraform import terraform

__all__ = [
    "DELIVERY_POLICY",
    "SetupError",
    "SetupSpec",
    "cli_script",
    "cloudformation",
    "delivery_retry_seconds",
    "terraform",
]
