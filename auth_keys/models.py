from django.conf import settings
from django.db import models
from django.utils import timezone


class PersonalAPIKey(models.Model):
    """A user's personal API key. Only its SHA-256 digest and a display mask are stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    mask = models.CharField(max_length=16, editable=False, db_index=True)
    scopes = models.JSONField(default=list)
    # Lists of ids rather than many-to-many tables: portable, and checked without extra queries.
    # Empty means "not restricted".
    scoped_projects = models.JSONField(default=list, blank=True)
    scoped_organizations = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "personal API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.mask} ({self.label})" if self.label else self.mask

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
