"""POST /api/projects/{project_id}/signal_source_configs/: contract sections 2 (the resource, the
catalog, config rules)."""

import pytest

from signalsource import catalog
from signalsource.models import SignalSourceConfig
from tests.helpers import assert_error, make_project

VALID_PAIRS = [
    ("session_replay", "session_analysis_cluster"),
    ("llm_analytics", "evaluation"),
    ("github", "issue"),
    ("linear", "issue"),
    ("zendesk", "ticket"),
]


def create(tenant, body, **kwargs):
    return tenant.client.post(tenant.url, body, format="json", **kwargs)


def test_catalog_publishes_posthogs_pairs():
    # The published pairs come first; today's catalog follows them (tests/signalsource/test_full_catalog.py).
    assert [(source.product, source.type) for source in catalog.SOURCES][: len(VALID_PAIRS)] == VALID_PAIRS


@pytest.mark.parametrize(("product", "source_type"), VALID_PAIRS)
def test_create_every_valid_pair(tenant, product, source_type):
    response = create(tenant, {"source_product": product, "source_type": source_type, "enabled": False})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["source_product"] == product
    assert body["source_type"] == source_type
    assert body["enabled"] is False
    row = SignalSourceConfig.objects.get(id=body["id"])
    assert (row.project_id, row.source_product, row.source_type, row.enabled) == (
        tenant.project.id,
        product,
        source_type,
        False,
    )


def test_minimal_create_has_the_defaults(tenant):
    response = create(tenant, {"source_product": "github", "source_type": "issue"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "id",
        "source_product",
        "source_type",
        "enabled",
        "config",
        "created_at",
        "updated_at",
        "status",
    }
    assert body["enabled"] is True
    assert body["config"] == {}
    assert body["status"] is None
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")
    row = SignalSourceConfig.objects.get(id=body["id"])
    assert row.enabled is True
    assert row.config == {}


def test_ids_are_uuid7(tenant):
    response = create(tenant, {"source_product": "github", "source_type": "issue"})

    assert response.status_code == 201, response.json()
    assert response.json()["id"][14] == "7"  # the UUID version digit


def test_created_by_is_recorded_and_never_shown(tenant):
    response = create(tenant, {"source_product": "github", "source_type": "issue"})

    assert response.status_code == 201, response.json()
    assert "created_by" not in response.json()
    assert "project" not in response.json()
    assert SignalSourceConfig.objects.get(id=response.json()["id"]).created_by_id == tenant.user.id


def test_full_create_keeps_config(tenant):
    config = {"recording_filters": {"duration_min": 5}, "sample_rate": 0.5, "custom": [1, "two"]}
    response = create(
        tenant,
        {"source_product": "session_replay", "source_type": "session_analysis_cluster", "config": config},
    )

    assert response.status_code == 201, response.json()
    assert response.json()["config"] == config
    assert SignalSourceConfig.objects.get(id=response.json()["id"]).config == config


def test_read_only_and_unknown_fields_are_ignored(tenant, other_tenant):
    body = {
        "source_product": "github",
        "source_type": "issue",
        "id": "00000000-0000-0000-0000-000000000001",
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
        "status": "running",
        "created_by": other_tenant.user.id,
        "project": other_tenant.project.id,
        "project_id": other_tenant.project.id,
        "team_id": other_tenant.project.id,
        "colour": "blue",
    }
    response = create(tenant, body)

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["id"] != body["id"]
    assert data["status"] is None
    assert not data["created_at"].startswith("2000")
    assert "colour" not in data
    row = SignalSourceConfig.objects.get(id=data["id"])
    assert row.project_id == tenant.project.id
    assert row.created_by_id == tenant.user.id
    assert not SignalSourceConfig.objects.filter(project=other_tenant.project).exists()


def test_project_comes_from_the_url_only(tenant):
    another_project = make_project(tenant.organization)
    response = create(tenant, {"source_product": "github", "source_type": "issue", "project": another_project.id})

    assert response.status_code == 201, response.json()
    assert SignalSourceConfig.objects.get(id=response.json()["id"]).project_id == tenant.project.id


# --- Choices and pairs -------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["source_product", "source_type"])
def test_required_fields(tenant, missing):
    body = {"source_product": "github", "source_type": "issue"}
    del body[missing]

    assert_error(
        create(tenant, body), 400, "validation_error", code="required", detail="This field is required.", attr=missing
    )
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source_product", "error_tracker"),
        ("source_product", ""),
        ("source_type", "nonexistent_type"),
        ("source_type", "ISSUE"),
    ],
)
def test_invalid_choice(tenant, field, value):
    body = {"source_product": "github", "source_type": "issue", field: value}

    assert_error(
        create(tenant, body),
        400,
        "validation_error",
        code="invalid_choice",
        detail=f'"{value}" is not a valid choice.',
        attr=field,
    )
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.parametrize(
    ("product", "source_type", "valid"),
    [
        ("session_replay", "issue", "session_analysis_cluster"),
        ("github", "ticket", "issue"),
        ("zendesk", "issue", "ticket"),
        ("llm_analytics", "session_analysis_cluster", "evaluation, evaluation_report"),
        ("linear", "evaluation", "issue"),
    ],
)
def test_invalid_pair_names_the_valid_types(tenant, product, source_type, valid):
    response = create(tenant, {"source_product": product, "source_type": source_type})

    assert_error(
        response,
        400,
        "validation_error",
        code="invalid_pair",
        detail=f"'{source_type}' is not a valid source_type for '{product}'. Valid types: {valid}.",
        attr="source_type",
    )
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.parametrize("field", ["source_product", "source_type", "enabled"])
def test_null_choice_or_flag(tenant, field):
    body = {"source_product": "github", "source_type": "issue", field: None}

    assert_error(
        create(tenant, body), 400, "validation_error", code="null", detail="This field may not be null.", attr=field
    )


def test_enabled_must_be_a_boolean(tenant):
    body = {"source_product": "github", "source_type": "issue", "enabled": "maybe"}

    assert_error(
        create(tenant, body),
        400,
        "validation_error",
        code="invalid_input",
        detail="Must be a valid boolean.",
        attr="enabled",
    )


# --- Config rules -------------------------------------------------------------------------------

SESSION_REPLAY = {"source_product": "session_replay", "source_type": "session_analysis_cluster"}
GITHUB = {"source_product": "github", "source_type": "issue"}
LINEAR = {"source_product": "linear", "source_type": "issue"}


def test_config_null_is_refused(tenant):
    assert_error(
        create(tenant, {**GITHUB, "config": None}),
        400,
        "validation_error",
        code="null",
        detail="This field may not be null.",
        attr="config",
    )


@pytest.mark.parametrize("config", [[], [1, 2], "skip chores", "", 0, 1.5, True, False])
def test_config_must_be_an_object(tenant, config):
    assert_error(
        create(tenant, {**GITHUB, "config": config}),
        400,
        "validation_error",
        detail="config must be a JSON object",
        attr="config",
    )
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.parametrize(
    ("source", "config", "message"),
    [
        (SESSION_REPLAY, {"recording_filters": "bad"}, "recording_filters must be a JSON object"),
        (SESSION_REPLAY, {"recording_filters": [1, 2, 3]}, "recording_filters must be a JSON object"),
        (SESSION_REPLAY, {"recording_filters": None}, "recording_filters must be a JSON object"),
        (SESSION_REPLAY, {"sample_rate": 1.5}, "sample_rate must be a number between 0 and 1"),
        (SESSION_REPLAY, {"sample_rate": -0.1}, "sample_rate must be a number between 0 and 1"),
        (SESSION_REPLAY, {"sample_rate": True}, "sample_rate must be a number between 0 and 1"),
        (SESSION_REPLAY, {"sample_rate": "0.5"}, "sample_rate must be a number between 0 and 1"),
        (SESSION_REPLAY, {"sample_rate": None}, "sample_rate must be a number between 0 and 1"),
        (GITHUB, {"steering": ["skip", "chores"]}, "steering must be a string"),
        (GITHUB, {"steering": None}, "steering must be a string"),
        (GITHUB, {"steering": "x" * 2001}, "steering must be at most 2000 characters"),
        (SESSION_REPLAY, {"steering": 5}, "steering must be a string"),
        (GITHUB, {"default_not_actionable": "yes"}, "default_not_actionable must be a boolean"),
        (GITHUB, {"default_not_actionable": None}, "default_not_actionable must be a boolean"),
        (GITHUB, {"default_not_actionable": 1}, "default_not_actionable must be a boolean"),
        (LINEAR, {"linear_team_ids": "team-1"}, "linear_team_ids must be a list of strings"),
        (LINEAR, {"linear_team_ids": None}, "linear_team_ids must be a list of strings"),
        (LINEAR, {"linear_team_ids": ["team-1", 2]}, "linear_team_ids must be a list of strings"),
        (LINEAR, {"linear_team_ids": ["team-1", " "]}, "linear_team_ids must not contain blank strings"),
        (
            LINEAR,
            {"linear_team_ids": [f"team-{i}" for i in range(101)]},
            "linear_team_ids must have at most 100 items",
        ),
        (
            LINEAR,
            {"linear_team_ids": ["t" * 256]},
            "each linear_team_ids entry must be at most 255 characters",
        ),
    ],
)
def test_config_rule_breaks(tenant, source, config, message):
    assert_error(create(tenant, {**source, "config": config}), 400, "validation_error", detail=message, attr="config")
    assert not SignalSourceConfig.objects.exists()


def test_a_linear_team_id_at_the_limit_once_trimmed_is_accepted_and_stored_trimmed(tenant):
    longest = "t" * 255
    response = create(tenant, {**LINEAR, "config": {"linear_team_ids": [f" {longest} "]}})
    assert response.status_code == 201, response.json()
    assert response.json()["config"] == {"linear_team_ids": [longest]}
    assert SignalSourceConfig.objects.get().config == {"linear_team_ids": [longest]}


@pytest.mark.parametrize(
    ("source", "config"),
    [
        (SESSION_REPLAY, {"recording_filters": {"duration_min": 5}}),
        (SESSION_REPLAY, {"recording_filters": {}}),
        (SESSION_REPLAY, {"sample_rate": 0}),
        (SESSION_REPLAY, {"sample_rate": 1}),
        (SESSION_REPLAY, {"sample_rate": 0.25}),
        (GITHUB, {}),
        (GITHUB, {"steering": "Ignore issues labeled chore"}),
        (GITHUB, {"steering": "x" * 2000}),
        (GITHUB, {"default_not_actionable": True}),
        (GITHUB, {"steering": "Release checklists are never actionable", "default_not_actionable": False}),
        (LINEAR, {"linear_team_ids": []}),
        (LINEAR, {"linear_team_ids": [f"team-{i}" for i in range(100)]}),
        (LINEAR, {"linear_team_ids": ["t" * 255]}),
        (LINEAR, {"linear_team_ids": ["team-1", "team-2"], "steering": "Skip chores"}),
    ],
)
def test_config_rule_accepts(tenant, source, config):
    response = create(tenant, {**source, "config": config})

    assert response.status_code == 201, response.json()
    assert response.json()["config"] == config
    assert SignalSourceConfig.objects.get(id=response.json()["id"]).config == config


def test_rules_of_one_source_do_not_apply_to_another(tenant):
    # recording_filters and sample_rate are session replay's keys; elsewhere they are unknown keys.
    # (linear_team_ids is checked for every source since PostHog checks it so.)
    config = {"recording_filters": "anything", "sample_rate": 7}
    response = create(tenant, {**GITHUB, "config": config})

    assert response.status_code == 201, response.json()
    assert response.json()["config"] == config


def test_linear_team_ids_are_stored_trimmed(tenant):
    response = create(tenant, {**LINEAR, "config": {"linear_team_ids": [" team-1 ", "team-2"]}})

    assert response.status_code == 201, response.json()
    assert response.json()["config"] == {"linear_team_ids": ["team-1", "team-2"]}
    assert SignalSourceConfig.objects.get(id=response.json()["id"]).config == {"linear_team_ids": ["team-1", "team-2"]}


@pytest.mark.parametrize(
    "config",
    [
        {"note": "a\x00b"},
        {"a\x00": "key with NUL"},
        {"deep": [{"deeper": ["ok", "bad\x00"]}]},
        {"steering": "\x00"},
    ],
)
def test_nul_characters_anywhere_in_config_are_refused(tenant, config):
    response = create(tenant, {**GITHUB, "config": config})

    assert_error(response, 400, "validation_error", detail="config must not contain NUL characters", attr="config")
    assert not SignalSourceConfig.objects.exists()


def test_config_size_cap(tenant):
    # {"blob":"..."} is 11 bytes of framing around the string.
    at_cap = {"blob": "x" * (catalog.MAX_CONFIG_BYTES - 11)}
    over_cap = {"blob": "x" * (catalog.MAX_CONFIG_BYTES - 10)}

    response = create(tenant, {**GITHUB, "config": over_cap})
    assert_error(
        response, 400, "validation_error", detail="config must be at most 64 KiB when serialized as JSON", attr="config"
    )
    assert not SignalSourceConfig.objects.exists()

    response = create(tenant, {**GITHUB, "config": at_cap})
    assert response.status_code == 201, response.json()


def test_deeply_nested_config_is_a_clear_400(tenant):
    # Deeper than the JSON parser allows: refused as malformed JSON, never a crash.
    body = '{"source_product":"github","source_type":"issue","config":' + "[" * 2000 + "]" * 2000 + "}"
    response = tenant.client.generic("POST", tenant.url, body, content_type="application/json")

    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "invalid_request"
    assert not SignalSourceConfig.objects.exists()


def test_nan_in_config_is_refused(tenant):
    body = '{"source_product":"github","source_type":"issue","config":{"x":NaN}}'
    response = tenant.client.generic("POST", tenant.url, body, content_type="application/json")

    assert response.status_code == 400, response.json()
    assert not SignalSourceConfig.objects.exists()
