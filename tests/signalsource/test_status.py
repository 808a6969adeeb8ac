"""`status`: the state of the source's latest processing run, read-only in the API (contract
section 2, `status`)."""

import pytest
from django.core.exceptions import ValidationError

from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import configs_url


@pytest.fixture
def created(tenant):
    response = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_status_is_null_on_create(created):
    assert created["status"] is None
    assert SignalSourceConfig.objects.get(id=created["id"]).status is None


@pytest.mark.parametrize("status", ["running", "completed", "failed", None])
def test_set_status_is_shown_by_the_api(tenant, created, status):
    row = SignalSourceConfig.objects.get(id=created["id"])
    services.set_status(row, "running")

    services.set_status(row, status)

    assert SignalSourceConfig.objects.get(id=created["id"]).status == status
    detail = tenant.client.get(configs_url(tenant.project.id, created["id"])).json()
    assert detail["status"] == status
    assert tenant.client.get(tenant.url).json()["results"][0]["status"] == status


@pytest.mark.parametrize("status", ["", "RUNNING", "pending", "succeeded", "null", 1])
def test_set_status_refuses_other_values(created, status):
    row = SignalSourceConfig.objects.get(id=created["id"])
    services.set_status(row, "completed")

    with pytest.raises(ValidationError) as refused:
        services.set_status(row, status)
    assert refused.value.message_dict["status"] == [f'"{status}" is not a valid status.']

    assert SignalSourceConfig.objects.get(id=created["id"]).status == "completed"


def test_set_status_does_not_move_updated_at(created):
    row = SignalSourceConfig.objects.get(id=created["id"])
    updated_at = row.updated_at

    services.set_status(row, "failed")

    assert SignalSourceConfig.objects.get(id=created["id"]).updated_at == updated_at


def test_the_api_never_writes_status(tenant):
    response = tenant.client.post(
        tenant.url, {"source_product": "github", "source_type": "issue", "status": "running"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] is None
    url = configs_url(tenant.project.id, response.json()["id"])

    for status in ("failed", None, "bogus"):
        patched = tenant.client.patch(url, {"status": status}, format="json")
        assert patched.status_code == 200, patched.json()
        assert patched.json()["status"] is None

    row = SignalSourceConfig.objects.get(id=response.json()["id"])
    services.set_status(row, "completed")
    patched = tenant.client.patch(url, {"status": None, "enabled": False}, format="json")
    assert patched.json()["status"] == "completed"
    assert SignalSourceConfig.objects.get(id=row.id).status == "completed"


def test_an_update_keeps_a_status_reported_meanwhile(created):
    # The view holds the row it read; a status reported before it writes must survive the write.
    stale_copy = SignalSourceConfig.objects.get(id=created["id"])
    services.set_status(SignalSourceConfig.objects.get(id=created["id"]), "running")

    services.update_config(stale_copy, enabled=False)

    row = SignalSourceConfig.objects.get(id=created["id"])
    assert (row.enabled, row.status) == (False, "running")


def test_a_status_report_keeps_an_update_made_meanwhile(created):
    stale_copy = SignalSourceConfig.objects.get(id=created["id"])
    services.update_config(SignalSourceConfig.objects.get(id=created["id"]), config={"steering": "new"})

    services.set_status(stale_copy, "failed")

    row = SignalSourceConfig.objects.get(id=created["id"])
    assert (row.config, row.status) == ({"steering": "new"}, "failed")
