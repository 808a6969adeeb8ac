"""One config per (project, source_product, source_type): contract section 2, Uniqueness. Racing creates
of one source on PostgreSQL: test_concurrency.py."""

from signalsource.models import SignalSourceConfig
from tests.helpers import make_project

GITHUB = {"source_product": "github", "source_type": "issue"}


def test_duplicate_is_a_400_on_source_product(tenant):
    first = tenant.client.post(tenant.url, GITHUB, format="json")
    assert first.status_code == 201, first.json()

    response = tenant.client.post(tenant.url, {**GITHUB, "enabled": False, "config": {"steering": "x"}}, format="json")

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["code"] == "unique"
    assert body["attr"] == "source_product"
    assert "already exists" in body["detail"]
    row = SignalSourceConfig.objects.get(project=tenant.project)
    assert str(row.id) == first.json()["id"]
    assert row.enabled is True
    assert row.config == {}


def test_duplicate_of_a_row_made_outside_the_api(tenant):
    SignalSourceConfig.objects.create(project=tenant.project, created_by=tenant.user, **GITHUB)

    response = tenant.client.post(tenant.url, GITHUB, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["attr"] == "source_product"
    assert "already exists" in response.json()["detail"]


def test_same_product_with_another_type_is_not_a_duplicate(tenant):
    # linear + issue and github + issue share a type; the pair is what must be unique.
    assert tenant.client.post(tenant.url, GITHUB, format="json").status_code == 201
    response = tenant.client.post(tenant.url, {"source_product": "linear", "source_type": "issue"}, format="json")

    assert response.status_code == 201, response.json()


def test_same_source_allowed_in_other_projects(tenant, other_tenant):
    sibling = make_project(tenant.organization)
    for url, client in [
        (tenant.url, tenant.client),
        (f"/api/projects/{sibling.id}/signal_source_configs/", tenant.client),
        (other_tenant.url, other_tenant.client),
    ]:
        response = client.post(url, GITHUB, format="json")
        assert response.status_code == 201, response.json()

    assert SignalSourceConfig.objects.filter(**GITHUB).count() == 3


def test_source_is_free_again_after_delete(tenant):
    created = tenant.client.post(tenant.url, GITHUB, format="json")
    assert tenant.client.delete(f"{tenant.url}{created.json()['id']}/").status_code == 204

    response = tenant.client.post(tenant.url, GITHUB, format="json")

    assert response.status_code == 201, response.json()


def test_a_create_whose_conflicting_row_was_deleted_before_it_looked_inserts_again(tenant, monkeypatch):
    """The create-vs-delete race, made certain: another request's row for the same source is committed
    when this create inserts (the unique constraint refuses it) and deleted before the create looks
    for it. The source is free, so the create inserts again: 201 and one row, not "already exists"."""
    from signalsource import services

    real_write = services._write
    raced = []

    def write_racing_a_create_and_a_delete(change, *records, **options):
        if raced:
            return real_write(change, *records, **options)
        raced.append(SignalSourceConfig.objects.create(project=tenant.project, **GITHUB))
        try:
            return real_write(change, *records, **options)
        finally:
            raced[0].delete()

    monkeypatch.setattr(services, "_write", write_racing_a_create_and_a_delete)

    response = tenant.client.post(tenant.url, GITHUB, format="json")

    assert raced, "the race was not staged"
    assert response.status_code == 201, response.json()
    (row,) = SignalSourceConfig.objects.filter(project=tenant.project)
    assert str(row.id) == response.json()["id"]
