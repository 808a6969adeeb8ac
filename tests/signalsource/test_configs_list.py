"""GET /api/projects/{project_id}/signal_source_configs/: contract section 3 (listing) and our filters."""

from datetime import timedelta

import pytest
from django.utils import timezone

from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import make_project

# Contract section 3: the fields of a listed config.
LISTED_FIELDS = {
    "id", "source_product", "source_type", "enabled", "config", "created_at", "updated_at", "status",
}  # fmt: skip

PAIRS = [
    ("session_replay", "session_analysis_cluster"),
    ("llm_analytics", "evaluation"),
    ("github", "issue"),
    ("linear", "issue"),
    ("zendesk", "ticket"),
]


def make_rows(project, count):
    """`count` configs in `project`, made directly in the database. The catalog has only five sources,
    so rows for long lists get made-up types (the database does not enforce the choices)."""
    rows = [
        SignalSourceConfig(project=project, source_product="github", source_type=f"type_{index}")
        for index in range(count)
    ]
    return SignalSourceConfig.objects.bulk_create(rows)


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_empty_list(tenant):
    response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_shows_the_projects_configs(tenant):
    created = tenant.client.post(
        tenant.url,
        {"source_product": "session_replay", "source_type": "session_analysis_cluster", "config": {"sample_rate": 1}},
        format="json",
    ).json()

    response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 1
    assert response.json()["results"] == [created]
    # The contract's fields, written out here (not only "as the create answered"), `status` included.
    (row,) = response.json()["results"]
    assert set(row) == LISTED_FIELDS
    assert (row["source_product"], row["config"], row["status"]) == ("session_replay", {"sample_rate": 1}, None)


def test_the_list_shows_each_rows_status(tenant):
    row = SignalSourceConfig.objects.create(project=tenant.project, source_product="github", source_type="issue")
    services.set_status(row, "running")
    (listed,) = tenant.client.get(tenant.url).json()["results"]
    assert listed["status"] == "running"


def test_the_list_holds_only_its_own_projects_configs(tenant, other_tenant):
    mine = SignalSourceConfig.objects.create(project=tenant.project, source_product="github", source_type="issue")
    SignalSourceConfig.objects.create(project=other_tenant.project, source_product="github", source_type="issue")
    SignalSourceConfig.objects.create(project=other_tenant.project, source_product="linear", source_type="issue")
    # Another project of the same organisation, too: the filter is the project, not the organisation.
    sibling = make_project(tenant.organization)
    SignalSourceConfig.objects.create(project=sibling, source_product="zendesk", source_type="ticket")

    response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 1
    assert ids(response) == [str(mine.id)]


def test_order_is_newest_updated_at_first(tenant):
    for product, source_type in PAIRS:
        response = tenant.client.post(
            tenant.url, {"source_product": product, "source_type": source_type}, format="json"
        )
        assert response.status_code == 201, response.json()
    rows = list(SignalSourceConfig.objects.filter(project=tenant.project))
    now = timezone.now()
    for age, row in enumerate(rows):
        SignalSourceConfig.objects.filter(pk=row.pk).update(updated_at=now - timedelta(minutes=age))
    # A PATCH moves a row to the front.
    oldest = rows[-1]
    assert tenant.client.patch(f"{tenant.url}{oldest.id}/", {"enabled": False}, format="json").status_code == 200

    response = tenant.client.get(tenant.url)

    assert ids(response) == [str(oldest.id)] + [str(row.id) for row in rows[:-1]]


def test_ties_on_updated_at_are_broken_by_id(tenant):
    make_rows(tenant.project, 30)
    SignalSourceConfig.objects.filter(project=tenant.project).update(updated_at=timezone.now())

    response = tenant.client.get(tenant.url)

    expected = sorted(str(row.id) for row in SignalSourceConfig.objects.filter(project=tenant.project))
    assert ids(response) == expected


def test_default_limit_is_100(tenant):
    make_rows(tenant.project, 105)

    response = tenant.client.get(tenant.url)

    body = response.json()
    assert response.status_code == 200, body
    assert body["count"] == 105
    assert len(body["results"]) == 100
    assert body["next"] == f"http://testserver{tenant.url}?limit=100&offset=100"
    assert body["previous"] is None


def test_limit_is_capped_at_1000(tenant):
    make_rows(tenant.project, 1001)

    response = tenant.client.get(tenant.url, {"limit": 5000})

    body = response.json()
    assert body["count"] == 1001
    assert len(body["results"]) == 1000
    assert body["next"] == f"http://testserver{tenant.url}?limit=1000&offset=1000"


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "", "1.5", "1e3"])
def test_bad_limit_falls_back_to_the_default(tenant, limit):
    make_rows(tenant.project, 101)

    response = tenant.client.get(tenant.url, {"limit": limit})

    assert response.status_code == 200, response.json()
    assert len(response.json()["results"]) == 100


def test_huge_limit_is_capped_not_an_error(tenant):
    make_rows(tenant.project, 3)

    response = tenant.client.get(tenant.url, {"limit": "9" * 30, "offset": "9" * 30})

    assert response.status_code == 200, response.json()
    assert response.json()["results"] == []
    assert response.json()["count"] == 3


@pytest.mark.parametrize("offset", ["-1", "abc", "", "2.5"])
def test_bad_offset_counts_as_zero(tenant, offset):
    make_rows(tenant.project, 3)
    first_page = ids(tenant.client.get(tenant.url, {"limit": 2}))

    response = tenant.client.get(tenant.url, {"limit": 2, "offset": offset})

    assert response.status_code == 200, response.json()
    assert ids(response) == first_page


def test_offset_past_the_end_is_an_empty_page_with_the_count(tenant):
    make_rows(tenant.project, 3)

    response = tenant.client.get(tenant.url, {"offset": 10})

    body = response.json()
    assert response.status_code == 200, body
    assert body["count"] == 3
    assert body["results"] == []
    assert body["next"] is None
    assert body["previous"] == f"http://testserver{tenant.url}?limit=100"


def test_next_and_previous_are_absolute_urls(tenant):
    make_rows(tenant.project, 5)

    response = tenant.client.get(tenant.url, {"limit": 2, "offset": 2})

    body = response.json()
    assert body["next"] == f"http://testserver{tenant.url}?limit=2&offset=4"
    assert body["previous"] == f"http://testserver{tenant.url}?limit=2"


def test_pages_never_repeat_or_skip_rows_sharing_one_updated_at(tenant):
    make_rows(tenant.project, 25)
    # One bulk update: every row now has the same updated_at, so only the id orders them.
    SignalSourceConfig.objects.filter(project=tenant.project).update(enabled=False, updated_at=timezone.now())

    seen = []
    url = f"{tenant.url}?limit=4"
    while url:
        body = tenant.client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert len(seen) == 25
    assert set(seen) == {str(pk) for pk in SignalSourceConfig.objects.values_list("id", flat=True)}


def test_pages_stay_consistent_while_rows_outside_them_are_updated(tenant):
    make_rows(tenant.project, 12)
    SignalSourceConfig.objects.filter(project=tenant.project).update(updated_at=timezone.now() - timedelta(hours=1))
    first = tenant.client.get(tenant.url, {"limit": 4}).json()
    # Re-reading page one while nothing changed gives the same rows.
    assert tenant.client.get(tenant.url, {"limit": 4}).json()["results"] == first["results"]

    second = tenant.client.get(first["next"]).json()
    third = tenant.client.get(second["next"]).json()

    all_ids = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert len(all_ids) == len(set(all_ids)) == 12
    assert third["next"] is None


def test_filters_by_source_product_type_and_enabled(tenant, other_tenant):
    for product, source_type in PAIRS:
        tenant.client.post(
            tenant.url,
            {"source_product": product, "source_type": source_type, "enabled": product != "github"},
            format="json",
        )
    SignalSourceConfig.objects.create(project=other_tenant.project, source_product="github", source_type="issue")

    def listed(**params):
        response = tenant.client.get(tenant.url, params)
        assert response.status_code == 200, response.json()
        return sorted((row["source_product"], row["source_type"]) for row in response.json()["results"])

    assert listed(source_product="github") == [("github", "issue")]
    assert listed(source_type="issue") == [("github", "issue"), ("linear", "issue")]
    assert listed(enabled="false") == [("github", "issue")]
    assert len(listed(enabled="true")) == 4
    assert listed(source_type="issue", enabled="true") == [("linear", "issue")]
    assert tenant.client.get(tenant.url, {"source_type": "issue"}).json()["count"] == 2


@pytest.mark.parametrize(
    ("param", "value"),
    [("source_product", "error_tracker"), ("source_type", "bogus"), ("enabled", "maybe"), ("enabled", "2")],
)
def test_filter_value_outside_the_choices_is_a_400(tenant, param, value):
    response = tenant.client.get(tenant.url, {param: value})

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["attr"] == param
    assert body["code"] == "invalid_choice"


def test_filters_keep_pagination_links(tenant):
    make_rows(tenant.project, 3)

    body = tenant.client.get(tenant.url, {"source_product": "github", "limit": 1}).json()

    assert body["count"] == 3
    assert body["next"] == f"http://testserver{tenant.url}?limit=1&offset=1&source_product=github"
