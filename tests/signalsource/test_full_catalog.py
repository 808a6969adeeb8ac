"""The full catalog (issue 14): every product and type PostHog accepts today, the pairs it emits,
labels, and every pair walked through create on both routes."""

import pytest

from signalsource import catalog
from signalsource.models import SignalSourceConfig
from tests.helpers import PUBLISHED_ROUTE, SIGNALS_ROUTE, assert_error, configs_url

# PostHog's `enums.py` / `models.py` at the researched commit: 51 products, 20 config types, plus the
# published `evaluation` that PostHog has retired.
POSTHOG_PRODUCT_COUNT = 51
POSTHOG_TYPES = {
    "session_analysis_cluster", "evaluation_report", "issue", "ticket", "issue_created", "issue_reopened",
    "issue_spiking", "cross_source_issue", "alert_state_change", "health_issue", "endpoint_execution_failed",
    "endpoint_breakdown_limit_exceeded", "scanner_finding", "anomaly_investigation", "feedback", "review",
    "ci_flaky_check", "ci_broken_default_branch", "ci_duration_regression", "search_opportunity",
}  # fmt: skip
# The 56 (product, type) pairs PostHog's source emits, written out by hand (not read from the
# catalog, so that a pair added to or dropped from `catalog.SOURCES` by mistake fails here).
POSTHOG_PAIRS = {
    ("aha", "feedback"),
    ("analytics", "anomaly_investigation"),
    ("appfigures", "review"),
    ("appfollow", "review"),
    ("asknicely", "feedback"),
    ("bugsnag", "issue"),
    ("canny", "feedback"),
    ("conversations", "ticket"),
    ("datadog", "issue"),
    ("dixa", "ticket"),
    ("endpoints", "endpoint_breakdown_limit_exceeded"), ("endpoints", "endpoint_execution_failed"),
    ("engineering_analytics", "ci_broken_default_branch"), ("engineering_analytics", "ci_duration_regression"),
    ("engineering_analytics", "ci_flaky_check"),
    ("error_tracking", "issue_created"), ("error_tracking", "issue_reopened"), ("error_tracking", "issue_spiking"),
    ("featurebase", "feedback"),
    ("freshdesk", "ticket"),
    ("freshservice", "ticket"),
    ("frill", "feedback"),
    ("front", "ticket"),
    ("gitea", "issue"),
    ("github", "issue"),
    ("gitlab", "issue"),
    ("google_search_console", "search_opportunity"),
    ("gorgias", "ticket"),
    ("health_checks", "health_issue"),
    ("honeybadger", "issue"),
    ("hubspot", "ticket"),
    ("intercom", "ticket"),
    ("jira", "issue"),
    ("judgeme_reviews", "review"),
    ("kustomer", "ticket"),
    ("linear", "issue"),
    ("llm_analytics", "evaluation"), ("llm_analytics", "evaluation_report"),
    ("logs", "alert_state_change"),
    ("pganalyze", "issue"),
    ("plain", "ticket"),
    ("productboard", "feedback"),
    ("rapid7_insightvm", "scanner_finding"),
    ("raygun", "issue"),
    ("replay_vision", "scanner_finding"),
    ("retently", "feedback"),
    ("rollbar", "issue"),
    ("semgrep", "scanner_finding"),
    ("sentry", "issue"),
    ("session_replay", "session_analysis_cluster"),
    ("shortcut", "issue"),
    ("signals_scout", "cross_source_issue"),
    ("snyk", "scanner_finding"),
    ("sonarqube", "scanner_finding"),
    ("uservoice", "feedback"),
    ("zendesk", "ticket"),
}  # fmt: skip
PAIRS = sorted(POSTHOG_PAIRS)
CURRENT_PAIRS = [pair for pair in PAIRS if pair[1] not in catalog.RETIRED_TYPES]


def test_the_catalog_holds_every_product_and_type_posthog_accepts():
    assert len(catalog.PRODUCT_LABELS) == POSTHOG_PRODUCT_COUNT
    assert set(catalog.TYPE_LABELS) == POSTHOG_TYPES | {"evaluation"}
    assert {"evaluation"} == catalog.RETIRED_TYPES
    assert all(label.strip() for label in [*catalog.PRODUCT_LABELS.values(), *catalog.TYPE_LABELS.values()])


def test_the_catalog_holds_exactly_the_pairs_posthog_emits():
    catalog_pairs = [(source.product, source.type) for source in catalog.SOURCES]
    assert len(POSTHOG_PAIRS) == 56
    assert set(catalog_pairs) == POSTHOG_PAIRS
    assert len(catalog_pairs) == len(POSTHOG_PAIRS)  # no pair twice
    for product in catalog.PRODUCT_LABELS:
        for source_type in catalog.TYPE_LABELS:
            found = catalog.get_source(product, source_type)
            assert (found is not None) == ((product, source_type) in POSTHOG_PAIRS), (product, source_type)


def test_pairs_are_labelled_and_use_known_values():
    for source in catalog.SOURCES:
        assert source.product in catalog.PRODUCT_LABELS and source.type in catalog.TYPE_LABELS
        assert source.label and source.status_from
    assert len({source.label for source in catalog.SOURCES}) == len(PAIRS)


def test_every_product_but_the_inbox_check_has_a_pair_and_every_type_is_emitted():
    assert {product for product, _ in PAIRS} == set(catalog.PRODUCT_LABELS) - {"signals_check"}
    assert {source_type for _, source_type in PAIRS} == set(catalog.TYPE_LABELS)


def test_the_model_and_the_filters_take_the_full_catalog():
    assert SignalSourceConfig._meta.get_field("source_product").choices == catalog.PRODUCT_CHOICES
    assert SignalSourceConfig._meta.get_field("source_type").choices == catalog.TYPE_CHOICES


@pytest.mark.parametrize(("product", "source_type"), CURRENT_PAIRS)
def test_every_current_pair_is_created_on_todays_route(tenant, product, source_type):
    response = tenant.client.post(
        configs_url(tenant.project.id, route=SIGNALS_ROUTE),
        {"source_product": product, "source_type": source_type, "enabled": False},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source_product"], body["source_type"], body["enabled"]) == (product, source_type, False)
    row = SignalSourceConfig.objects.get(id=body["id"])
    assert (row.project_id, row.source_product, row.source_type) == (tenant.project.id, product, source_type)
    # And the published route reads it.
    assert tenant.client.get(configs_url(tenant.project.id, body["id"])).json() == body


def test_every_pair_is_created_on_the_published_route(tenant):
    url = configs_url(tenant.project.id, route=PUBLISHED_ROUTE)
    for product, source_type in PAIRS:
        response = tenant.client.post(url, {"source_product": product, "source_type": source_type}, format="json")
        assert response.status_code == 201, (product, source_type, response.json())
    assert SignalSourceConfig.objects.filter(project=tenant.project).count() == len(PAIRS)
    assert tenant.client.get(url, {"limit": 100}).json()["count"] == len(PAIRS)


@pytest.mark.parametrize("route", [PUBLISHED_ROUTE, SIGNALS_ROUTE])
def test_a_type_of_another_product_is_refused_naming_the_valid_ones(tenant, route):
    body = assert_error(
        tenant.client.post(
            configs_url(tenant.project.id, route=route),
            {"source_product": "error_tracking", "source_type": "issue"},
            format="json",
        ),
        400,
        code="invalid_pair",
        attr="source_type",
    )
    assert body["detail"].endswith("Valid types: issue_created, issue_reopened, issue_spiking.")
