"""Forms of the AWS pages: trying a filter pattern, and an integration's AWS credentials."""

from __future__ import annotations

import re
from typing import Any, Final

from django import forms
from django.conf import settings

from aws.api import MAX_EVENTS, MAX_EVENTS_CHARS
from aws.cloudtrail_samples import SAMPLES, CloudTrailSample, sample_by_id
from aws.models import AwsCredentials

_REGION_RE: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
# AWS's own limits: key ids are 16-128 word characters (AKIA... for an IAM user), secrets
# 40 characters today; role ARNs and external ids as IAM documents them.
_ACCESS_KEY_ID_RE: Final = re.compile(r"[A-Z0-9]{16,128}")
_SECRET_RE: Final = re.compile(r"\S{16,128}")
_ROLE_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")
_EXTERNAL_ID_RE: Final = re.compile(r"[\w+=,.@:/-]{2,1224}")


class PatternTestForm(forms.Form):
    """A pattern and the events to try it on: typed (one per line) and/or samples."""

    pattern = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        help_text="A CloudWatch Logs filter pattern: terms, { JSON }, [ space-delimited ] "
        "or %regex%.",
    )
    events = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Log event messages, one per line (a CloudTrail record is one line of "
        "JSON, as CloudWatch Logs stores it).",
    )
    sample = forms.MultipleChoiceField(
        required=False,
        choices=[(s.id, s.title) for s in SAMPLES],
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        samples = [sample_by_id(i) for i in data.get("sample", [])]
        lines = [line.rstrip("\r") for line in (data.get("events") or "").split("\n")]
        typed = [line for line in lines if line.strip()]
        if len(samples) + len(typed) > MAX_EVENTS:
            raise forms.ValidationError(
                f"{len(samples) + len(typed)} events: at most {MAX_EVENTS} at a time."
            )
        size = sum(len(s.message) for s in samples) + sum(len(line) for line in typed)
        if size > MAX_EVENTS_CHARS:
            raise forms.ValidationError(
                f"The events hold {size:,} characters; at most {MAX_EVENTS_CHARS:,} in all."
            )
        data["chosen_samples"] = samples
        data["typed_events"] = typed
        return data

    def to_test(self) -> list[tuple[str, CloudTrailSample | None]]:
        """(message, the sample it came from or None), samples first, in order."""
        data = self.cleaned_data
        return [(s.message, s) for s in data["chosen_samples"]] + [
            (line, None) for line in data["typed_events"]
        ]


class AwsCredentialsForm(forms.Form):
    """Read-only credentials for evidence: an access key, or a role to assume."""

    kind = forms.ChoiceField(
        choices=AwsCredentials.Kind.choices,
        initial=AwsCredentials.Kind.KEYS,
        widget=forms.RadioSelect,
        label="Credentials",
    )
    region = forms.CharField(
        max_length=32,
        help_text="Where the evidence is looked for when the alarm does not say (its ARN "
        "names its region).",
    )
    access_key_id = forms.CharField(required=False, max_length=128, label="Access key ID")
    secret_access_key = forms.CharField(
        required=False,
        max_length=128,
        label="Secret access key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    role_arn = forms.CharField(
        required=False,
        max_length=2048,
        label="Role ARN",
        help_text="Assumed with the Klaxon host's own credentials (an instance profile, or "
        "AWS_ACCESS_KEY_ID in its environment).",
    )
    external_id = forms.CharField(
        required=False,
        max_length=1224,
        label="External ID",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="If the role's trust policy asks for one.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].initial = settings.AWS_REGION

    def clean_region(self) -> str:
        region: str = self.cleaned_data["region"]
        if not _REGION_RE.fullmatch(region):
            raise forms.ValidationError(f"{region!r} is not an AWS region name (us-east-1).")
        return region

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == AwsCredentials.Kind.KEYS:
            self._check("access_key_id", _ACCESS_KEY_ID_RE, "16-128 capital letters and digits")
            self._check("secret_access_key", _SECRET_RE, "16-128 characters without spaces")
        elif data.get("kind") == AwsCredentials.Kind.ROLE:
            self._check("role_arn", _ROLE_ARN_RE, "arn:aws:iam::<account>:role/<name>")
            if data.get("external_id"):
                self._check("external_id", _EXTERNAL_ID_RE, "2-1224 letters, digits, +=,.@:/-")
        return data

    def _check(self, name: str, pattern: re.Pattern[str], expected: str) -> None:
        value = self.cleaned_data.get(name, "")
        if not value:
            self.add_error(name, "Required for this kind of credentials.")
        elif not pattern.fullmatch(value):
            # The value is not repeated: it may be (part of) a secret.
            self.add_error(name, f"Not a valid value: expected {expected}.")
