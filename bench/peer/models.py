"""The service's tables as the peer sees them: unmanaged models, so nothing here migrates."""

import uuid6
from django.conf import settings
from django.db import models
from django.utils import timezone


class Organization(models.Model):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False
        db_table = "projects_organization"

    def __str__(self) -> str:
        return self.name


class OrganizationMembership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False
        db_table = "projects_organizationmembership"

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organization_id}"


class Project(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False
        db_table = "projects_project"

    def __str__(self) -> str:
        return self.name


class PersonalAPIKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    mask = models.CharField(max_length=16)
    scopes = models.JSONField(default=list)
    scoped_projects = models.JSONField(default=list)
    scoped_organizations = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "auth_keys_personalapikey"

    def __str__(self) -> str:
        return self.mask

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class SignalSourceConfig(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    source_product = models.CharField(max_length=64)
    source_type = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001 -- the service's column
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)
    run_heartbeat_at = models.DateTimeField(null=True)
    status_if_stale = models.CharField(max_length=16, null=True)  # noqa: DJ001 -- the service's column

    class Meta:
        managed = False
        db_table = "signalsource_signalsourceconfig"

    def __str__(self) -> str:
        return f"{self.source_product}/{self.source_type}"
