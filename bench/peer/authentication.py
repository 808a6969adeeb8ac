"""Authentication and throttles, in a module of their own: DRF imports its DEFAULT_ classes while
`rest_framework.views` is still importing, so they cannot live beside the views."""

import hashlib
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions, throttling

from .models import PersonalAPIKey


class PersonalAPIKeyAuthentication(authentication.TokenAuthentication):
    """DRF's TokenAuthentication with `Bearer` keys, looked up by their SHA-256 digest (the service
    stores digests only), plus the service's hourly `last_used_at`."""

    keyword = "Bearer"
    model = PersonalAPIKey

    def authenticate_credentials(self, key):
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        try:
            token = self.model.objects.select_related("user").get(digest=digest)
        except self.model.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if token.revoked_at is not None or token.is_expired or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= timedelta(hours=1):
            PersonalAPIKey.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token


class BurstRateThrottle(throttling.UserRateThrottle):
    scope = "burst"


class SustainedRateThrottle(throttling.UserRateThrottle):
    scope = "sustained"
