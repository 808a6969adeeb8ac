"""The hand-written reads (signalsource/selectors.py) answer what the ORM's queries answer.

The API takes them when nothing narrows the request (only `limit` and `offset` in a list's query
string, nothing in a detail's); any other parameter, `format=json` here, takes the ORM's path. Both
paths must give the same bodies.
"""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from signalsource import catalog, selectors
from signalsource.models import SignalSourceConfig
from tests.helpers import PUBLISHED_ROUTE, SIGNALS_ROUTE, configs_url, make_config

pytestmark = pytest.mark.django_db
HAND_WRITTEN_COUNT = "COUNT(*) OVER ()"  # the ORM writes COUNT(<column>) OVER ()


@pytest.fixture
def configs(tenant, other_tenant):
    """Seven configs, three of them changed at the same instant (ordered by id among themselves),
    and another project's, which no read of this project may return."""
    made = [make_config(tenant.project, source.product, source.type) for source in catalog.SOURCES[:7]]
    SignalSourceConfig.objects.filter(pk__in=[c.pk for c in made[2:5]]).update(updated_at=timezone.now())
    make_config(other_tenant.project)
    return made


def _orm_ids(project):
    return [str(c.id) for c in SignalSourceConfig.objects.filter(project=project).order_by(*selectors.LIST_ORDER)]


@pytest.mark.parametrize(("offset", "limit"), [(0, 100), (0, 1), (2, 3), (6, 5), (7, 5), (50, 10)])
def test_a_page_is_the_orms_page_with_the_total(tenant, configs, offset, limit):
    page = selectors.project_configs_page(project_id=tenant.project.id, offset=offset, limit=limit)

    assert [str(c.id) for c in page] == _orm_ids(tenant.project)[offset : offset + limit]
    assert {c.total_count for c in page} <= {7}
    for row in page:
        stored = SignalSourceConfig.objects.get(pk=row.pk)
        assert [getattr(row, f.attname) for f in SignalSourceConfig._meta.concrete_fields] == [
            getattr(stored, f.attname) for f in SignalSourceConfig._meta.concrete_fields
        ]


def test_one_config_is_found_only_in_its_project(tenant, other_tenant, configs):
    config = configs[0]

    assert selectors.project_config(project_id=tenant.project.id, pk=str(config.id)) == config
    assert selectors.project_config(project_id=tenant.project.id, pk=config.id.hex.upper()) == config
    assert selectors.project_config(project_id=other_tenant.project.id, pk=str(config.id)) is None
    assert selectors.project_config(project_id=tenant.project.id, pk=str(uuid.uuid4())) is None
    assert selectors.project_config(project_id=tenant.project.id, pk="not-a-uuid") is None


def _get(tenant, url, params):
    with CaptureQueriesContext(connection) as captured:
        response = tenant.client.get(url, params)
    return response, " ".join(q["sql"] for q in captured.captured_queries)


@pytest.mark.parametrize("route", [PUBLISHED_ROUTE, SIGNALS_ROUTE])
@pytest.mark.parametrize("params", [{}, {"limit": 2}, {"limit": 3, "offset": 2}, {"offset": 7}, {"offset": 40}])
def test_a_list_answers_the_same_by_hand_and_through_the_orm(tenant, configs, route, params):
    url = configs_url(tenant.project.id, route=route)

    by_hand, sql = _get(tenant, url, params)
    assert HAND_WRITTEN_COUNT in sql, sql
    through_orm, sql = _get(tenant, url, {**params, "format": "json"})
    assert HAND_WRITTEN_COUNT not in sql

    assert by_hand.status_code == through_orm.status_code == 200
    body, orm_body = by_hand.json(), through_orm.json()
    assert body["results"] == orm_body["results"]
    assert body["count"] == orm_body["count"] == 7
    assert [r["id"] for r in body["results"]] == _orm_ids(tenant.project)[params.get("offset", 0) :][
        : params.get("limit", 100)
    ]


@pytest.mark.parametrize("route", [PUBLISHED_ROUTE, SIGNALS_ROUTE])
def test_a_config_answers_the_same_by_hand_and_through_the_orm(tenant, other_tenant, configs, route):
    others = SignalSourceConfig.objects.get(project=other_tenant.project)
    for config_id, status in [(configs[3].id, 200), (others.id, 404), (uuid.uuid4(), 404), ("nope", 404)]:
        url = configs_url(tenant.project.id, config_id, route=route)
        by_hand, through_orm = tenant.client.get(url), tenant.client.get(url, {"format": "json"})

        assert by_hand.status_code == through_orm.status_code == status, by_hand.json()
        assert by_hand.json() == through_orm.json()
        assert by_hand.headers.get("ETag") == through_orm.headers.get("ETag")


def test_a_config_by_its_source_is_the_projects_config_of_that_pair(tenant, other_tenant, configs):
    def by_source(project, product, source_type):
        return selectors.config_by_source(project_id=project.id, source_product=product, source_type=source_type)

    # Pairs that share a type (github/linear issue) or a product (llm_analytics): each finds its own.
    for config in configs:
        assert by_source(tenant.project, config.source_product, config.source_type) == config
    assert by_source(tenant.project, "error_tracking", "issue_reopened") is None
    assert by_source(other_tenant.project, "linear", "issue") is None  # this project's, not the other's
    assert by_source(other_tenant.project, "github", "issue") not in configs


def test_configs_by_their_sources_are_the_projects_configs_of_those_pairs(tenant, other_tenant, configs):
    wanted = [("github", "issue"), ("llm_analytics", "evaluation_report"), ("error_tracking", "issue_reopened")]
    found = selectors.configs_by_source(project_id=tenant.project.id, pairs=wanted)
    assert found == {(c.source_product, c.source_type): c for c in (configs[2], configs[5])}
    other = selectors.configs_by_source(
        project_id=other_tenant.project.id, pairs=[("github", "issue"), ("linear", "issue")]
    )
    assert list(other) == [("github", "issue")]
    assert other["github", "issue"].project_id == other_tenant.project.id
