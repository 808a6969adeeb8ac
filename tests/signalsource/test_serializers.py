"""The config serializers build a row directly (for speed); they must answer exactly what DRF's
ModelSerializer, walking the declared fields, answers."""

from datetime import UTC, datetime

import pytest
from rest_framework import serializers

from signalsource import catalog
from signalsource.models import SignalSourceConfig
from signalsource.serializers import SignalSourceConfigSerializer, SignalsSourceConfigSerializer
from tests.helpers import make_config

pytestmark = pytest.mark.django_db
SERIALIZERS = pytest.mark.parametrize("serializer_class", [SignalSourceConfigSerializer, SignalsSourceConfigSerializer])


def _drf(serializer_class, instance):
    return dict(serializers.ModelSerializer.to_representation(serializer_class(), instance))


@SERIALIZERS
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"enabled": False, "status": "running"},
        {"config": {"sample_rate": 0.5, "nested": {"list": [1, "two", None, True]}, "unicode": "é 😀"}},
        {"status": "failed", "config": {"recording_filters": {"duration_min": 5}}},
    ],
)
def test_a_row_is_what_drf_makes_of_it(tenant, serializer_class, fields):
    config = make_config(tenant.project, "session_replay", "session_analysis_cluster", **fields)
    config.refresh_from_db()  # as read back from the database

    row = serializer_class(config).data

    assert row == _drf(serializer_class, config)
    assert list(row) == list(_drf(serializer_class, config))  # the same keys, in the same order


@SERIALIZERS
def test_datetimes_keep_drfs_format_with_microseconds_and_without(tenant, serializer_class):
    config = make_config(tenant.project)
    SignalSourceConfig.objects.filter(pk=config.pk).update(
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), updated_at=datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    )
    config.refresh_from_db()

    row = serializer_class(config).data

    assert (row["created_at"], row["updated_at"]) == ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000678Z")
    assert row == _drf(serializer_class, config)


@SERIALIZERS
def test_every_declared_field_is_in_the_row(serializer_class):
    assert list(serializer_class().fields) == serializer_class.Meta.fields
    made = {"id", "source_product", "source_type", "enabled", "config", "created_at", "updated_at", "status"}
    assert set(serializer_class.Meta.fields) == made, "a new field needs its line in to_representation"


@SERIALIZERS
def test_a_page_is_the_same_rows(tenant, serializer_class):
    configs = [make_config(tenant.project, s.product, s.type) for s in catalog.SOURCES[:4]]

    assert serializer_class(configs, many=True).data == [_drf(serializer_class, c) for c in configs]
