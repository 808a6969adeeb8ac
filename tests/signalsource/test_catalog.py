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


def test_a_pair_name_is_the_product_a_slash_and_the_type_and_splits_back_at_the_first_slash():
    assert catalog.pair_name("github", "issue") == "github/issue"
    assert catalog.split_pair_name("github/issue") == ("github", "issue")
    # A name without the separator is a product alone (the admin's form then refuses the pair).
    assert catalog.split_pair_name("github") == ("github", "")


def test_a_source_is_named_by_its_label_or_by_its_pair_name_once_the_catalog_has_dropped_it():
    assert catalog.source_label("jira", "issue") == "Jira: issues"
    assert catalog.source_label("error_tracking", "issue_spiking") == "Error tracking: issue spiking"
    assert catalog.source_label("jira", "ticket") == "jira/ticket"


def test_the_tables_helpers_label_a_source_by_its_product_and_what_it_reads_or_emits():
    # They build SOURCES at import, before a test can run: called again here.
    assert catalog._warehouse("jira", "issue", "issues") == catalog.Source(
        "jira", "issue", "Jira: issues", status_from="warehouse sync"
    )
    assert catalog._direct("error_tracking", "issue_created") == catalog.Source(
        "error_tracking", "issue_created", "Error tracking: issue created", status_from="product that emits the signals"
    )
    rules = (catalog.SAMPLE_RATE,)
    assert catalog._warehouse("plain", "ticket", "threads", rules).config_rules == rules
    assert catalog._direct("logs", "alert_state_change", rules).config_rules == rules


def test_a_new_config_gets_its_sources_defaults_for_the_keys_the_client_left_out():
    replay = ("session_replay", "session_analysis_cluster")
    assert catalog.with_new_config_defaults(*replay, {}) == {"sample_rate": 0.1}
    assert catalog.with_new_config_defaults(*replay, {"steering": "x"}) == {"steering": "x", "sample_rate": 0.1}
    # A key the client sent is kept as sent, null too.
    assert catalog.with_new_config_defaults(*replay, {"sample_rate": 0.5}) == {"sample_rate": 0.5}
    assert catalog.with_new_config_defaults(*replay, {"sample_rate": None}) == {"sample_rate": None}
    # A source without defaults, and a pair the catalog does not have, get none.
    assert catalog.with_new_config_defaults("github", "issue", {"a": 1}) == {"a": 1}
    assert catalog.with_new_config_defaults("gone", "issue", {"a": 1}) == {"a": 1}


# Written out by hand, not read from the catalog: the pairs PostHog's own products emit (its signal
# contracts), and the two published pairs whose status a workflow of their own reports. Every other
# pair is read from a data warehouse sync.
EMITTED_BY_POSTHOGS_PRODUCTS = {
    ("llm_analytics", "evaluation_report"),
    ("error_tracking", "issue_created"), ("error_tracking", "issue_reopened"), ("error_tracking", "issue_spiking"),
    ("endpoints", "endpoint_execution_failed"), ("endpoints", "endpoint_breakdown_limit_exceeded"),
    ("signals_scout", "cross_source_issue"),
    ("logs", "alert_state_change"),
    ("analytics", "anomaly_investigation"),
    ("health_checks", "health_issue"),
    ("replay_vision", "scanner_finding"),
    ("engineering_analytics", "ci_flaky_check"), ("engineering_analytics", "ci_broken_default_branch"),
    ("engineering_analytics", "ci_duration_regression"),
}  # fmt: skip
REPORTED_BY_A_WORKFLOW = {
    ("session_replay", "session_analysis_cluster"): "session analysis workflow run",
    ("llm_analytics", "evaluation"): "evaluation workflow run",
}


def test_each_source_says_what_reports_its_status():
    for source in catalog.SOURCES:
        pair = (source.product, source.type)
        if pair in REPORTED_BY_A_WORKFLOW:
            expected = REPORTED_BY_A_WORKFLOW[pair]
        elif pair in EMITTED_BY_POSTHOGS_PRODUCTS:
            expected = "product that emits the signals"
        else:
            expected = "warehouse sync"
        assert source.status_from == expected, pair


def test_only_session_replays_clusters_have_rules_and_defaults_of_their_own():
    own = {
        (source.product, source.type): ([rule.key for rule in source.config_rules], source.new_config_defaults)
        for source in catalog.SOURCES
        if source.config_rules or source.new_config_defaults
    }
    assert own == {
        ("session_replay", "session_analysis_cluster"): (["recording_filters", "sample_rate"], {"sample_rate": 0.1})
    }
    assert [rule.key for rule in catalog.COMMON_CONFIG_RULES] == [
        "linear_team_ids",
        "steering",
        "default_not_actionable",
    ]


def _nested(levels: int, inner="x") -> list:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


MAX_INT = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
DECIMALS = (
    "config decimal numbers must be 0 or between 1e-06 and 1e+15 in magnitude, so that they read back exactly as sent"
)


@pytest.mark.parametrize(
    "value",
    [
        MAX_INT, -MAX_INT, True, False, 0, 0.0, -0.0,
        1e15, -1e15, 1e-6, -1e-6, 0.5,
        "é \u2028 \U0001f600",
        {"k": [1, {"m": None}]},
        _nested(63),  # the config object and 63 lists: 64 levels
        _nested(62, {"k": "v"}),  # an object at the 64th level: its keys and values are no level of their own
    ],
)  # fmt: skip
def test_a_value_a_database_stores_faithfully_is_kept(value):
    assert catalog.clean_config("github", "issue", {"v": value}) == {"v": value}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (MAX_INT + 1, f"config integers must be between -{MAX_INT} and {MAX_INT}"),
        (-MAX_INT - 1, f"config integers must be between -{MAX_INT} and {MAX_INT}"),
        (float("nan"), "config numbers must be finite"),
        (float("-inf"), "config numbers must be finite"),
        (1.0000001e15, DECIMALS),
        (-1.0000001e15, DECIMALS),
        (9.99e-7, DECIMALS),
        ("a\x00b", "config must not contain NUL characters"),
        ("\ud800", "config must contain only valid Unicode text"),
        (_nested(64), "config must be nested at most 64 levels deep"),
        # Keys are checked as values are, and a problem deep inside a list or an object is found.
        ({"a\x00": 1}, "config must not contain NUL characters"),
        ({"k": [1, {"m": 2**60}]}, f"config integers must be between -{MAX_INT} and {MAX_INT}"),
        ([0.5, "\ud800"], "config must contain only valid Unicode text"),
        (["a\x00", True], "config must not contain NUL characters"),  # a boolean ends no walk
    ],
)  # fmt: skip
def test_a_value_a_database_cannot_store_faithfully_is_refused_with_its_message(value, message):
    with pytest.raises(catalog.ConfigError) as refused:
        catalog.clean_config("github", "issue", {"v": value})
    assert str(refused.value) == message


REPLAY = ("session_replay", "session_analysis_cluster")


@pytest.mark.parametrize(
    ("product", "source_type", "config", "message"),
    [
        ("github", "issue", [], "config must be a JSON object"),
        ("github", "issue", None, "config must be a JSON object"),
        ("github", "issue", {"steering": 1}, "steering must be a string"),
        ("github", "issue", {"default_not_actionable": 1}, "default_not_actionable must be a boolean"),
        ("github", "issue", {"linear_team_ids": "t"}, "linear_team_ids must be a list of strings"),
        ("github", "issue", {"linear_team_ids": ["t", 1]}, "linear_team_ids must be a list of strings"),
        ("github", "issue", {"linear_team_ids": ["t"] * 101}, "linear_team_ids must have at most 100 items"),
        ("github", "issue", {"linear_team_ids": ["t", " "]}, "linear_team_ids must not contain blank strings"),
        (*REPLAY, {"sample_rate": 1.01}, "sample_rate must be a number between 0 and 1"),
        (*REPLAY, {"sample_rate": "1"}, "sample_rate must be a number between 0 and 1"),
        (*REPLAY, {"recording_filters": "x"}, "recording_filters must be a JSON object"),
    ],
)  # fmt: skip
def test_each_rule_refuses_with_posthogs_whole_message(product, source_type, config, message):
    with pytest.raises(catalog.ConfigError) as refused:
        catalog.clean_config(product, source_type, config)
    assert str(refused.value) == message


def test_each_limit_takes_a_value_at_the_limit():
    edges = {
        "steering": "x" * 2000,
        "linear_team_ids": [f"t{number}" for number in range(100)],
        "default_not_actionable": False,
    }
    assert catalog.clean_config("github", "issue", edges) == edges
    for rate in (0, 1, 0.0, 1.0):
        assert catalog.clean_config(*REPLAY, {"sample_rate": rate}) == {"sample_rate": rate}


def test_a_config_of_exactly_64_kib_is_taken_and_one_byte_more_is_not():
    padding = catalog.MAX_CONFIG_BYTES - len('{"blob":""}')
    exactly = {"blob": "x" * padding}
    assert catalog.clean_config("github", "issue", exactly) == exactly
    with pytest.raises(catalog.ConfigError, match=r"^config must be at most 64 KiB when serialized as JSON$"):
        catalog.clean_config("github", "issue", {"blob": "x" * (padding + 1)})


def test_a_pair_the_catalog_does_not_have_is_checked_by_the_common_rules_only():
    assert catalog.config_rules_for("gone", "issue") == catalog.COMMON_CONFIG_RULES
    assert catalog.clean_config("gone", "issue", {"sample_rate": 7}) == {"sample_rate": 7}
    with pytest.raises(catalog.ConfigError, match=r"^steering must be a string$"):
        catalog.clean_config("gone", "issue", {"steering": 7})
