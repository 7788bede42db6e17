"""/login/ (Django's LoginView) with sign-in throttling, and API token authentication
with the same (accounts/throttle.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpResponse
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from accounts import throttle

THROTTLED = "throttled"


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match. Try again.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password")
        if not (username and password):
            return super().clean()  # a missing field: nothing was tried
        assert self.request is not None  # LoginView always passes it
        address = throttle.client_address(self.request)
        lock = throttle.signin_lock(username=username, address=address)
        if lock is not None:
            # Refused before the password is checked: a right guess during the lock
            # must look exactly like a wrong one.
            raise forms.ValidationError(lock.message(), code=THROTTLED)
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.signin_failed(username=username, address=address)
            raise
        throttle.signin_succeeded(username=username)
        return cleaned


class SignInView(LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if any(error.code == THROTTLED for error in form.errors.as_data().get("__all__", [])):
            response.status_code = 429
        return response


class ThrottledTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; after too many keys that are not valid from one
    address, that address gets 429 for the rest of the window."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if not request.META.get("HTTP_AUTHORIZATION"):
            return None  # no credentials tried: session auth may apply
        address = throttle.client_address(request._request)
        lock = throttle.token_lock(address=address)
        if lock is not None:
            raise Throttled(wait=lock.seconds, detail=lock.message())
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle.token_failed(address=address)
            raise
