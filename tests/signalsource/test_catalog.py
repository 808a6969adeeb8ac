"""The catalog: the table of sources, the pairs it allows and the config rules, without HTTP."""

import pytest

from signalsource import catalog

PUBLISHED_PAIRS = [
    ("session_replay", "session_analysis_cluster"),
    ("llm_analytics", "evaluation"),
    ("github", "issue"),
    ("linear", "issue"),
    ("zendesk", "ticket"),
]


@pytest.mark.parametrize(("product", "source_type"), PUBLISHED_PAIRS)
def test_every_published_pair_is_a_source(product, source_type):
    source = catalog.get_source(product, source_type)
    assert source is not None and source.label


def test_a_pair_outside_the_table_is_no_source():
    assert catalog.get_source("zendesk", "issue") is None
    assert catalog.get_source("unknown", "issue") is None


def test_every_source_uses_only_known_products_and_types():
    for source in catalog.SOURCES:
        assert source.product in catalog.PRODUCT_LABELS
        assert source.type in catalog.TYPE_LABELS


def test_valid_types_are_listed_per_product():
    assert catalog.valid_types_for("github") == ["issue"]
    assert catalog.valid_types_for("unknown") == []


def test_common_rules_apply_to_every_source_and_source_rules_only_to_their_own():
    keys = {
        (s.product, s.type): {rule.key for rule in catalog.config_rules_for(s.product, s.type)} for s in catalog.SOURCES
    }
    for source_keys in keys.values():
        assert {"steering", "default_not_actionable"} <= source_keys
    assert "sample_rate" in keys[("session_replay", "session_analysis_cluster")]
    assert "sample_rate" not in keys[("github", "issue")]


def test_clean_config_keeps_unknown_keys_and_cleans_known_ones():
    cleaned = catalog.clean_config("linear", "issue", {"linear_team_ids": [" x "], "extra": {"kept": True}})
    assert cleaned == {"linear_team_ids": ["x"], "extra": {"kept": True}}


def test_clean_config_does_not_change_what_it_was_given():
    given = {"linear_team_ids": [" x "]}
    catalog.clean_config("linear", "issue", given)
    assert given == {"linear_team_ids": [" x "]}


def test_a_key_one_source_checks_is_kept_as_sent_by_another():
    assert catalog.clean_config("github", "issue", {"sample_rate": "often"}) == {"sample_rate": "often"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"sample_rate": True}, "sample_rate must be a number between 0 and 1"),
        ({"sample_rate": -0.1}, "sample_rate must be a number between 0 and 1"),
        ({"recording_filters": []}, "recording_filters must be a JSON object"),
        ({"steering": "x" * 2001}, "steering must be at most 2000 characters"),
        ({"n": float("inf")}, "config numbers must be finite"),
        ({"blob": "x" * catalog.MAX_CONFIG_BYTES}, "config must be at most 64 KiB when serialized as JSON"),
    ],
)
def test_clean_config_raises_the_message_the_client_sees(config, message):
    with pytest.raises(catalog.ConfigError, match=f"^{message}$"):
        catalog.clean_config("session_replay", "session_analysis_cluster", config)


def test_linear_team_ids_are_trimmed_before_their_length_is_checked():
    longest = "t" * catalog.LINEAR_TEAM_ID_MAX_LENGTH
    assert catalog.clean_config("linear", "issue", {"linear_team_ids": [f" {longest} "]}) == {
        "linear_team_ids": [longest]
    }
    with pytest.raises(catalog.ConfigError, match="at most 255 characters"):
        catalog.clean_config("linear", "issue", {"linear_team_ids": [f" {longest}t "]})


def test_a_deeply_nested_config_is_checked_without_exhausting_the_stack():
    value = "a"
    for _ in range(10_000):
        value = [value]
    with pytest.raises(catalog.ConfigError, match=f"nested at most {catalog.MAX_CONFIG_DEPTH} levels"):
        catalog.clean_config("github", "issue", {"deep": value})
