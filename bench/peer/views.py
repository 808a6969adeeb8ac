"""The peer's API: DRF's generic pieces, each used the way its documentation shows."""

from django.db import IntegrityError
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions, serializers, viewsets

from signalsource import catalog

from .models import Project, SignalSourceConfig


class HasScope(permissions.BasePermission):
    """`task:read` for reads, `task:write` for writes (`*` and `task:write` grant reads too)."""

    def has_permission(self, request, view):
        scopes = request.auth.scopes
        if "*" in scopes or "task:write" in scopes:
            return True
        return request.method in permissions.SAFE_METHODS and "task:read" in scopes


class ProjectAccess(permissions.BasePermission):
    """The key's project and organization restrictions; membership is checked by the project lookup."""

    def has_permission(self, request, view):
        key, project = request.auth, view.project
        if key.scoped_projects and project.id not in key.scoped_projects:
            return False
        return not key.scoped_organizations or project.organization_id in key.scoped_organizations


class SignalSourceConfigSerializer(serializers.ModelSerializer):
    source_product = serializers.ChoiceField(choices=catalog.PRODUCT_CHOICES)
    source_type = serializers.ChoiceField(choices=catalog.TYPE_CHOICES)

    class Meta:
        model = SignalSourceConfig
        fields = ["id", "source_product", "source_type", "enabled", "config", "created_at", "updated_at", "status"]
        read_only_fields = ["id", "created_at", "updated_at", "status"]

    def validate(self, attrs):
        if self.instance is not None:
            for name in ("source_product", "source_type"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError({name: f"{name} cannot be changed after creation."})
        product = attrs.get("source_product", getattr(self.instance, "source_product", None))
        source_type = attrs.get("source_type", getattr(self.instance, "source_type", None))
        if catalog.get_source(product, source_type) is None:
            raise serializers.ValidationError({"source_type": f"'{source_type}' is not valid for '{product}'."})
        if "config" in attrs:
            try:
                attrs["config"] = catalog.clean_config(product, source_type, attrs["config"])
            except catalog.ConfigError as error:
                raise serializers.ValidationError({"config": str(error)}) from None
        return attrs


class SignalSourceConfigViewSet(viewsets.ModelViewSet):
    serializer_class = SignalSourceConfigSerializer
    permission_classes = [permissions.IsAuthenticated, HasScope, ProjectAccess]
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["source_product", "source_type", "enabled"]
    http_method_names = ["get", "post", "patch", "delete", "head"]

    @cached_property
    def project(self):
        members = Project.objects.filter(organization__memberships__user=self.request.user)
        return get_object_or_404(members, pk=self.kwargs["project_id"])

    def get_queryset(self):
        return SignalSourceConfig.objects.filter(project=self.project).order_by("-updated_at", "id")

    def perform_create(self, serializer):
        try:
            serializer.save(project=self.project, created_by=self.request.user)
        except IntegrityError:
            raise serializers.ValidationError({"source_product": "This source already exists here."}) from None
