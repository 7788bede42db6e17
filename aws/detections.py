"""The detection pack: CloudTrail checks Klaxon can deploy as metric filters and alarms.

Three sources, merged where they overlap so each check exists once:

- the CIS AWS Foundations Benchmark v1.2.0 section 3 controls that AWS Security Hub
  checks as CloudWatch.1-14. Security Hub compares the metric filter's pattern string,
  so these patterns are the exact strings it expects (a test holds them byte for byte);
- the checks the CloudTrail lecture names (EC2 instance start/stop/reboot/terminate,
  failed authorization, security group and NACL changes, IAM and S3 policy changes,
  console sign-in failures);
- the 10 alarms of Opsgenie's CloudTrail CloudFormation template. Eight of them are a
  CIS control written with other spacing: those detections keep the CIS string and
  record the Opsgenie alarm name in ``opsgenie_alarm``.

Klaxon adds a few checks none of them has (sign-in failures of any kind, access keys,
MFA removal, role trust, public access blocks, GuardDuty, alarm tampering, public
snapshots).

Each detection names the sample records (``aws.cloudtrail_samples``) it must fire on
and some it must not; ``must_match`` lists every sample it fires on, and a test runs the
filter-pattern engine over the whole library to hold both lists true.

This module is pure data: no Django, no database, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "DETECTIONS",
    "NAMESPACE",
    "SEVERITIES",
    "Detection",
    "Severity",
    "detection_by_id",
]

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "high", "medium", "low")

# Our own namespace, so Klaxon's metrics never add up with those of an Opsgenie or CIS
# stack still deployed in the same account (teams run both while they move over).
NAMESPACE: Final = "Klaxon/CloudTrail"


@dataclass(frozen=True)
class Detection:
    """One check: a metric filter on the CloudTrail log group and an alarm on its metric.

    The alarm fires when the metric's Sum over ``period`` seconds reaches ``threshold``
    in ``evaluation_periods`` consecutive periods.
    """

    id: str
    title: str
    why: str
    severity: Severity
    metric_name: str
    filter_pattern: str
    remediation: str
    must_match: tuple[str, ...]
    must_not_match: tuple[str, ...]
    threshold: int = 1
    period: int = 300
    evaluation_periods: int = 1
    namespace: str = NAMESPACE
    security_hub_control: str | None = None
    """AWS Security Hub control id, e.g. ``CloudWatch.6``."""
    cis_control: str | None = None
    """CIS AWS Foundations Benchmark v1.2.0 recommendation, e.g. ``3.6``."""
    opsgenie_alarm: str | None = None
    """The alarm of Opsgenie's CloudTrail template this detection replaces."""
    in_lecture: bool = False
    """One of the checks the CloudTrail lecture names."""

    @property
    def label(self) -> str:
        """A short name for one-line messages: ``CIS 3.6 Console sign-in failures``."""
        return f"CIS {self.cis_control} {self.title}" if self.cis_control else self.title

    @property
    def references(self) -> tuple[str, ...]:
        """Where this check comes from, in words."""
        refs: list[str] = []
        if self.security_hub_control:
            refs.append(
                f"AWS Security Hub {self.security_hub_control} (CIS AWS Foundations 1.2.0, "
                f"{self.cis_control})"
            )
        if self.opsgenie_alarm:
            refs.append(f"Opsgenie CloudTrail template: {self.opsgenie_alarm}")
        if self.in_lecture:
            refs.append("CloudTrail lecture")
        return tuple(refs) or ("Klaxon",)


_SIGN_INS_OK: Final = ("signin-success-with-mfa", "signin-federated-sso")
_READ_ONLY: Final = ("ec2-describe-instances",)

DETECTIONS: Final[tuple[Detection, ...]] = (
    Detection(
        id="cis-cloudwatch-1",
        title="Root user activity",
        why="The root user can do anything, cannot be limited by IAM policies and should "
        "be locked away after setup. Any sign-in or API call by root is either a rare, "
        "planned task or a stolen root password or key.",
        severity="critical",
        metric_name="RootUserActivity",
        filter_pattern='{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType !="AwsServiceEvent"}',
        remediation="Ask who used root and why. If nobody planned it: change the root "
        "password, delete any root access keys, check the root MFA device, and review "
        "what the session did in CloudTrail.",
        must_match=("signin-root-with-mfa", "iam-root-create-access-key"),
        must_not_match=("kms-rotate-key-service-event", "signin-success-with-mfa"),
        security_hub_control="CloudWatch.1",
        cis_control="3.3",
    ),
    Detection(
        id="cis-cloudwatch-2",
        title="Unauthorized API calls",
        why="Calls refused with AccessDenied or UnauthorizedOperation show someone probing "
        "for what a credential may do, or a stolen key being tried; a burst of them is "
        "often the first sign of compromise. A broken deployment causes them too.",
        severity="medium",
        metric_name="UnauthorizedApiCalls",
        filter_pattern='{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
        remediation="Look at who made the refused calls and from where. A person or "
        "pipeline missing a permission: grant the least one needed. An unknown address or "
        "an unused key: deactivate the key and investigate.",
        must_match=("ec2-unauthorized-operation", "kms-access-denied"),
        must_not_match=("signin-failure-wrong-password", *_READ_ONLY),
        opsgenie_alarm="CloudTrailAuthorizationFailures",
        in_lecture=True,
        security_hub_control="CloudWatch.2",
        cis_control="3.1",
    ),
    Detection(
        id="cis-cloudwatch-3",
        title="Console sign-in without MFA",
        why="An IAM user who signs in to the console with a password alone is one phished "
        "or reused password away from an intruder.",
        severity="high",
        metric_name="ConsoleSignInWithoutMfa",
        filter_pattern='{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed '
        '!= "Yes") && ($.userIdentity.type = "IAMUser") && '
        '($.responseElements.ConsoleLogin = "Success") }',
        remediation="Require MFA for the user (an IAM policy that denies everything without "
        "aws:MultiFactorAuthPresent), help them register a device, and confirm the sign-in "
        "was theirs.",
        must_match=("signin-success-without-mfa",),
        must_not_match=(*_SIGN_INS_OK, "signin-failure-wrong-password", "signin-root-with-mfa"),
        security_hub_control="CloudWatch.3",
        cis_control="3.2",
    ),
    Detection(
        id="cis-cloudwatch-4",
        title="IAM policy changes",
        why="Changing who may do what is how an intruder keeps access and how mistakes grant "
        "far more than intended; every policy change should be one you expected.",
        severity="high",
        metric_name="IamPolicyChanges",
        filter_pattern="{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || "
        "($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || "
        "($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
        "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || "
        "($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || "
        "($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
        "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || "
        "($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}",
        remediation="Check the change against your change log or infrastructure code. "
        "Revert anything unplanned (detach the policy, restore the previous version) and "
        "review what the new permissions were used for.",
        must_match=("iam-put-user-policy", "iam-attach-role-policy"),
        must_not_match=("iam-update-assume-role-policy", "iam-create-login-profile"),
        opsgenie_alarm="CloudTrailIAMPolicyChanges",
        in_lecture=True,
        security_hub_control="CloudWatch.4",
        cis_control="3.4",
    ),
    Detection(
        id="cis-cloudwatch-5",
        title="CloudTrail configuration changes",
        why="Stopping, deleting or changing a trail blinds every other detection here; "
        "attackers do it first.",
        severity="critical",
        metric_name="CloudTrailChanges",
        filter_pattern="{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || "
        "($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}",
        remediation="Turn logging back on (StartLogging) or recreate the trail at once, then "
        "find out who changed it and what happened while it was off.",
        must_match=("cloudtrail-stop-logging", "cloudtrail-delete-trail"),
        must_not_match=("config-stop-configuration-recorder", "guardduty-delete-detector"),
        opsgenie_alarm="CloudTrailChanges",
        security_hub_control="CloudWatch.5",
        cis_control="3.5",
    ),
    Detection(
        id="cis-cloudwatch-6",
        title="Console sign-in failures",
        why="Repeated wrong passwords for real IAM users are a password-guessing attack, or "
        "someone locked out who needs help.",
        severity="medium",
        metric_name="ConsoleSignInFailures",
        filter_pattern='{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
        remediation="See which user and address failed. An address you do not know: block "
        "it where you can, make sure the user has MFA, and consider a password reset.",
        must_match=("signin-failure-wrong-password",),
        must_not_match=("signin-failure-unknown-user", "signin-success-without-mfa"),
        # Opsgenie's template alarms at 3 failures in 5 minutes: one typo is not a page.
        threshold=3,
        opsgenie_alarm="CloudTrailConsoleSignInFailures",
        in_lecture=True,
        security_hub_control="CloudWatch.6",
        cis_control="3.6",
    ),
    Detection(
        id="cis-cloudwatch-7",
        title="KMS keys disabled or scheduled for deletion",
        why="Data encrypted under a deleted key is gone for good; disabling a key stops "
        "every service that needs it. Both are also ransom tactics.",
        severity="high",
        metric_name="KmsKeyDisabledOrDeleted",
        filter_pattern="{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || "
        "($.eventName=ScheduleKeyDeletion))}",
        remediation="If unplanned: CancelKeyDeletion and EnableKey while the waiting period "
        "runs (7-30 days), then restrict kms:ScheduleKeyDeletion in the key policy.",
        must_match=("kms-disable-key", "kms-schedule-key-deletion"),
        must_not_match=("kms-rotate-key-service-event", "kms-access-denied"),
        security_hub_control="CloudWatch.7",
        cis_control="3.7",
    ),
    Detection(
        id="cis-cloudwatch-8",
        title="S3 bucket policy changes",
        why="Bucket policies, ACLs, CORS, lifecycle and replication decide who can read your "
        "data, where copies go and when it is deleted.",
        severity="high",
        metric_name="S3BucketPolicyChanges",
        filter_pattern="{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || "
        "($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || "
        "($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
        "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || "
        "($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}",
        remediation="Read the new policy in the event (requestParameters). Anything granting "
        'Principal "*" or another account you do not know: restore the previous policy '
        "and keep Block Public Access on.",
        must_match=("s3-put-bucket-policy",),
        must_not_match=("s3-delete-public-access-block", "iam-put-user-policy"),
        in_lecture=True,
        security_hub_control="CloudWatch.8",
        cis_control="3.8",
    ),
    Detection(
        id="cis-cloudwatch-9",
        title="AWS Config configuration changes",
        why="Stopping the Config recorder or removing its delivery channel hides later "
        "configuration changes from audits and compliance rules.",
        severity="high",
        metric_name="ConfigChanges",
        filter_pattern="{($.eventSource=config.amazonaws.com) && "
        "(($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || "
        "($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}",
        remediation="Start the recorder again (StartConfigurationRecorder) and check its "
        "delivery channel; find out who stopped it.",
        must_match=("config-stop-configuration-recorder",),
        must_not_match=("cloudtrail-stop-logging",),
        security_hub_control="CloudWatch.9",
        cis_control="3.9",
    ),
    Detection(
        id="cis-cloudwatch-10",
        title="Security group changes",
        why="Security groups are the firewall of every instance; one rule opening a port to "
        "0.0.0.0/0 exposes it to the whole internet.",
        severity="medium",
        metric_name="SecurityGroupChanges",
        filter_pattern="{($.eventName=AuthorizeSecurityGroupIngress) || "
        "($.eventName=AuthorizeSecurityGroupEgress) || "
        "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) "
        "|| ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}",
        remediation="Check the rule in the event. Remove anything opening SSH, RDP or a "
        "database port to 0.0.0.0/0 or ::/0; use Session Manager or a VPN instead.",
        must_match=("ec2-authorize-security-group-ingress",),
        must_not_match=("ec2-create-network-acl-entry", *_READ_ONLY),
        opsgenie_alarm="CloudTrailSecurityGroupChanges",
        in_lecture=True,
        security_hub_control="CloudWatch.10",
        cis_control="3.10",
    ),
    Detection(
        id="cis-cloudwatch-11",
        title="Network ACL changes",
        why="Network ACLs filter whole subnets; a changed entry can open or cut off every "
        "instance in them.",
        severity="medium",
        metric_name="NetworkAclChanges",
        filter_pattern="{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) "
        "|| ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || "
        "($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}",
        remediation="Compare the entry with your infrastructure code; revert rules that "
        "allow all traffic (protocol -1, 0.0.0.0/0) unless they were planned.",
        must_match=("ec2-create-network-acl-entry",),
        must_not_match=("ec2-authorize-security-group-ingress",),
        opsgenie_alarm="CloudTrailNetworkAclChanges",
        in_lecture=True,
        security_hub_control="CloudWatch.11",
        cis_control="3.11",
    ),
    Detection(
        id="cis-cloudwatch-12",
        title="Network gateway changes",
        why="Internet and customer gateways are the doors between your VPCs and the outside; "
        "a new one can open a private network or route traffic around your controls.",
        severity="medium",
        metric_name="NetworkGatewayChanges",
        filter_pattern="{($.eventName=CreateCustomerGateway) || "
        "($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || "
        "($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || "
        "($.eventName=DetachInternetGateway)}",
        remediation="Confirm the VPC should reach the internet; detach and delete gateways "
        "nobody planned.",
        must_match=("ec2-attach-internet-gateway",),
        must_not_match=("ec2-create-route",),
        opsgenie_alarm="CloudTrailGatewayChanges",
        security_hub_control="CloudWatch.12",
        cis_control="3.12",
    ),
    Detection(
        id="cis-cloudwatch-13",
        title="Route table changes",
        why="Routes decide where traffic goes; a new default route can send private "
        "traffic to the internet or through someone else's appliance.",
        severity="medium",
        metric_name="RouteTableChanges",
        filter_pattern="{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || "
        "($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || "
        "($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || "
        "($.eventName=DisassociateRouteTable)}",
        remediation="Compare the route with your network design and infrastructure code; "
        "remove unplanned routes to internet gateways or peering connections.",
        must_match=("ec2-create-route",),
        must_not_match=("ec2-attach-internet-gateway",),
        security_hub_control="CloudWatch.13",
        cis_control="3.13",
    ),
    Detection(
        id="cis-cloudwatch-14",
        title="VPC changes",
        why="Creating, deleting or peering VPCs changes which networks can talk to each "
        "other, including networks in other accounts.",
        severity="medium",
        metric_name="VpcChanges",
        filter_pattern="{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || "
        "($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || "
        "($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) "
        "|| ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || "
        "($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || "
        "($.eventName=EnableVpcClassicLink)}",
        remediation="Check peering requests to accounts you do not know and reject or delete "
        "them; confirm new VPCs belong to a planned change.",
        must_match=("ec2-create-vpc-peering-connection",),
        must_not_match=("ec2-create-route", "ec2-attach-internet-gateway"),
        opsgenie_alarm="CloudTrailVpcChanges",
        security_hub_control="CloudWatch.14",
        cis_control="3.14",
    ),
    Detection(
        id="ec2-instance-state-changes",
        title="EC2 instances launched, started, stopped, rebooted or terminated",
        why="Instances starting or stopping outside a deployment can be an outage in the "
        "making, lost data (terminate) or someone running their own workload on your bill.",
        severity="low",
        metric_name="Ec2InstanceStateChanges",
        filter_pattern="{ ($.eventName = RunInstances) || ($.eventName = RebootInstances) || "
        "($.eventName = StartInstances) || ($.eventName = StopInstances) || "
        "($.eventName = TerminateInstances) }",
        remediation="Match the change to a deployment or schedule; for unplanned launches "
        "see the large-instance detection, for unplanned terminations restore from "
        "snapshots and turn on termination protection.",
        must_match=(
            "ec2-run-instances-large",
            "ec2-run-instances-small",
            "ec2-start-instances",
            "ec2-stop-instances",
            "ec2-reboot-instances",
            "ec2-terminate-instances",
        ),
        must_not_match=("ec2-unauthorized-operation", *_READ_ONLY),
        opsgenie_alarm="CloudTrailEC2InstanceChanges",
        in_lecture=True,
    ),
    Detection(
        id="ec2-large-instance-launches",
        title="Large EC2 instances launched (4xlarge, 8xlarge)",
        why="Stolen keys are put to work mining cryptocurrency on the biggest instances "
        "they can start; a large launch nobody planned costs money by the hour.",
        severity="medium",
        metric_name="Ec2LargeInstanceLaunches",
        filter_pattern="{ ($.eventName = RunInstances) && (($.requestParameters.instanceType = "
        "*.8xlarge) || ($.requestParameters.instanceType = *.4xlarge)) }",
        remediation="If nobody planned it: stop the instances, deactivate the access key that "
        "launched them, and look for launches in other regions too.",
        must_match=("ec2-run-instances-large",),
        must_not_match=("ec2-run-instances-small", "ec2-start-instances"),
        opsgenie_alarm="CloudTrailEC2LargeInstanceChanges",
    ),
    Detection(
        id="console-sign-in-failures-any",
        title="Console sign-in failures of any kind",
        why="CIS 3.6 counts wrong passwords only; sign-ins with user names that do not exist "
        "fail with another message and are the mark of password spraying.",
        severity="medium",
        metric_name="ConsoleSignInFailuresAny",
        filter_pattern='{ ($.eventName = "ConsoleLogin") && '
        '($.responseElements.ConsoleLogin = "Failure") }',
        remediation="Look at the source addresses; block the ones you do not know where you "
        "can, and make sure every IAM user has MFA.",
        must_match=("signin-failure-wrong-password", "signin-failure-unknown-user"),
        must_not_match=("signin-success-without-mfa", *_SIGN_INS_OK),
        threshold=5,
    ),
    Detection(
        id="iam-access-key-created",
        title="Access keys created",
        why="A new access key is a long-lived credential that works from anywhere; creating "
        "one for another user, or for root, is a classic way to keep access.",
        severity="medium",
        metric_name="IamAccessKeysCreated",
        filter_pattern='{ ($.eventSource = "iam.amazonaws.com") && '
        '($.eventName = "CreateAccessKey") }',
        remediation="Confirm the owner asked for it. Otherwise deactivate and delete the key; "
        "prefer roles and short-lived credentials to access keys.",
        must_match=("iam-root-create-access-key",),
        must_not_match=("iam-create-login-profile", "iam-put-user-policy"),
    ),
    Detection(
        id="iam-user-sign-in-changes",
        title="IAM users created or given a console password",
        why="A new user or a new console password for an existing one is a new way in that "
        "no one may be watching.",
        severity="medium",
        metric_name="IamUserSignInChanges",
        filter_pattern='{ ($.eventSource = "iam.amazonaws.com") && (($.eventName = "CreateUser") '
        '|| ($.eventName = "CreateLoginProfile") || ($.eventName = "UpdateLoginProfile")) }',
        remediation="Check the user is known and expected; delete unknown users and login "
        "profiles, and require MFA for every console user.",
        must_match=("iam-create-login-profile",),
        must_not_match=("iam-root-create-access-key", "iam-deactivate-mfa-device"),
    ),
    Detection(
        id="iam-mfa-removed",
        title="MFA devices deactivated or deleted",
        why="Removing MFA is what an intruder does before using a stolen password, and what "
        "social engineering of a help desk looks like.",
        severity="high",
        metric_name="IamMfaRemoved",
        filter_pattern='{ ($.eventSource = "iam.amazonaws.com") && '
        '(($.eventName = "DeactivateMFADevice") || ($.eventName = "DeleteVirtualMFADevice")) }',
        remediation="Ask the user; if they did not ask for it, reset their password, register "
        "a new MFA device and check recent sign-ins.",
        must_match=("iam-deactivate-mfa-device",),
        must_not_match=("signin-success-with-mfa", "iam-create-login-profile"),
    ),
    Detection(
        id="iam-role-trust-changes",
        title="Role trust policies changed",
        why="A role's trust policy says who may become that role; adding another account or "
        "a wildcard there hands the role's permissions to outsiders.",
        severity="high",
        metric_name="IamRoleTrustChanges",
        filter_pattern='{ ($.eventSource = "iam.amazonaws.com") && '
        '($.eventName = "UpdateAssumeRolePolicy") }',
        remediation="Read the new trust policy in the event; remove principals you do not "
        "know and require an external id or organization condition for other accounts.",
        must_match=("iam-update-assume-role-policy",),
        must_not_match=("iam-attach-role-policy",),
    ),
    Detection(
        id="s3-public-access-block-changes",
        title="S3 Block Public Access changed",
        why="Block Public Access is the safety net under every bucket policy; removing it is "
        "usually the step before making data public.",
        severity="high",
        metric_name="S3PublicAccessBlockChanges",
        filter_pattern='{ ($.eventSource = "s3.amazonaws.com") && '
        '(($.eventName = "PutBucketPublicAccessBlock") || '
        '($.eventName = "DeleteBucketPublicAccessBlock") || '
        '($.eventName = "PutAccountPublicAccessBlock") || '
        '($.eventName = "DeleteAccountPublicAccessBlock")) }',
        remediation="Turn Block Public Access back on for the bucket and the account unless "
        "the bucket is meant to be public (a website), then check its policy.",
        must_match=("s3-delete-public-access-block",),
        must_not_match=("s3-put-bucket-policy",),
    ),
    Detection(
        id="guardduty-changes",
        title="GuardDuty detectors deleted or members unlinked",
        why="GuardDuty watches for threats these filters cannot see; turning it off is a "
        "step attackers take to work unobserved.",
        severity="critical",
        metric_name="GuardDutyChanges",
        filter_pattern='{ ($.eventSource = "guardduty.amazonaws.com") && '
        '(($.eventName = "DeleteDetector") || '
        '($.eventName = "DisassociateFromAdministratorAccount") || '
        '($.eventName = "DisassociateMembers") || ($.eventName = "DeleteMembers") || '
        '($.eventName = "StopMonitoringMembers")) }',
        remediation="Re-enable GuardDuty in the region (and the member link) at once, then "
        "find out who turned it off with which credentials.",
        must_match=("guardduty-delete-detector",),
        must_not_match=("cloudtrail-delete-trail",),
    ),
    Detection(
        id="alerting-tampering",
        title="Alarms, metric filters or alert topics deleted",
        why="Deleting alarms, metric filters, log groups or SNS topics and subscriptions "
        "silences this very pipeline; Klaxon would hear nothing after it.",
        severity="critical",
        metric_name="AlertingTampering",
        filter_pattern='{ (($.eventSource = "monitoring.amazonaws.com") && '
        '(($.eventName = "DeleteAlarms") || ($.eventName = "DisableAlarmActions"))) || '
        '(($.eventSource = "logs.amazonaws.com") && (($.eventName = "DeleteMetricFilter") || '
        '($.eventName = "DeleteLogGroup"))) || (($.eventSource = "sns.amazonaws.com") && '
        '(($.eventName = "DeleteTopic") || ($.eventName = "Unsubscribe"))) }',
        remediation="Re-create what was deleted (download the setup from Klaxon again and "
        "run it), then find out who deleted it.",
        must_match=("cloudwatch-delete-alarms",),
        must_not_match=("cloudtrail-delete-trail", "guardduty-delete-detector"),
    ),
    Detection(
        id="ec2-sharing-changes",
        title="EBS snapshot or AMI sharing changed",
        why="Sharing a snapshot or image with another account, or with everyone, copies "
        "whole disks out of your control.",
        severity="high",
        metric_name="Ec2SharingChanges",
        filter_pattern='{ ($.eventSource = "ec2.amazonaws.com") && '
        '(($.eventName = "ModifySnapshotAttribute") || '
        '($.eventName = "ModifyImageAttribute")) }',
        remediation='Check the permission added in the event; remove sharing with "all" or '
        "unknown accounts (ResetSnapshotAttribute) and turn on block public access for "
        "snapshots and AMIs.",
        must_match=("ec2-share-snapshot-publicly",),
        must_not_match=("ec2-unauthorized-operation", *_READ_ONLY),
    ),
)

_BY_ID: Final[dict[str, Detection]] = {detection.id: detection for detection in DETECTIONS}


def detection_by_id(detection_id: str) -> Detection:
    """The detection with this id; ``KeyError`` naming it when there is none."""
    try:
        return _BY_ID[detection_id]
    except KeyError:
        raise KeyError(f"no detection with id {detection_id!r}") from None
