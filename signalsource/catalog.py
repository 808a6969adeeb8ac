"""The catalog of signal sources: one table that the model, serializer, admin and OpenAPI read.

Adding a source is one `Source(...)` entry in `SOURCES` (plus the migration Django generates for the
new choice). Each source names the config keys it understands; every source also understands the
keys in `COMMON_CONFIG_RULES`. Keys a source does not know are kept as sent.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_CONFIG_BYTES = 64 * 1024


class ConfigError(ValueError):
    """A config value that breaks a rule; its message is shown to the client as is."""


@dataclass(frozen=True)
class ConfigRule:
    key: str
    description: str
    schema: dict  # JSON schema of the value, for the OpenAPI description
    clean: Callable[[Any], Any]  # returns the value to store, or raises ConfigError


# A source's name in one string, `<product>/<type>`: the admin's select, the activity log's record
# name and the API description all spell it this way.
PAIR_SEPARATOR = "/"


def pair_name(product: str, source_type: str) -> str:
    return f"{product}{PAIR_SEPARATOR}{source_type}"


def split_pair_name(name: str) -> tuple[str, str]:
    product, _, source_type = name.partition(PAIR_SEPARATOR)
    return product, source_type


@dataclass(frozen=True)
class Source:
    product: str
    type: str
    label: str
    status_from: str  # what reports this source's processing status
    config_rules: tuple[ConfigRule, ...] = field(default=())
    # Keys a new config gets when the client leaves them out, on the route that asks for them
    # (today's PostHog route; the published route stores `config` as sent).
    new_config_defaults: dict[str, Any] = field(default_factory=dict)


# --- Config rules (PostHog's messages) ----------------------------------------------------------


def _recording_filters(value):
    if not isinstance(value, dict):
        raise ConfigError("recording_filters must be a JSON object")
    return value


def _sample_rate(value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError("sample_rate must be a number between 0 and 1")
    return value


STEERING_MAX_LENGTH = 2000


def _steering(value):
    if not isinstance(value, str):
        raise ConfigError("steering must be a string")
    if len(value) > STEERING_MAX_LENGTH:
        raise ConfigError(f"steering must be at most {STEERING_MAX_LENGTH} characters")
    return value


def _default_not_actionable(value):
    if not isinstance(value, bool):
        raise ConfigError("default_not_actionable must be a boolean")
    return value


LINEAR_TEAM_IDS_MAX_ITEMS = 100
LINEAR_TEAM_ID_MAX_LENGTH = 255


def _linear_team_ids(value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError("linear_team_ids must be a list of strings")
    if len(value) > LINEAR_TEAM_IDS_MAX_ITEMS:
        raise ConfigError(f"linear_team_ids must have at most {LINEAR_TEAM_IDS_MAX_ITEMS} items")
    cleaned = [item.strip() for item in value]
    if any(not item for item in cleaned):
        raise ConfigError("linear_team_ids must not contain blank strings")
    if any(len(item) > LINEAR_TEAM_ID_MAX_LENGTH for item in cleaned):
        raise ConfigError(f"each linear_team_ids entry must be at most {LINEAR_TEAM_ID_MAX_LENGTH} characters")
    return cleaned


RECORDING_FILTERS = ConfigRule(
    "recording_filters",
    "Filters choosing which session recordings are analysed.",
    {"type": "object", "additionalProperties": True},
    _recording_filters,
)
SAMPLE_RATE = ConfigRule(
    "sample_rate",
    "Fraction of matching recordings to analyse, from 0 to 1.",
    {"type": "number", "minimum": 0, "maximum": 1},
    _sample_rate,
)
LINEAR_TEAM_IDS = ConfigRule(
    "linear_team_ids",
    "Linear team ids whose issues are read (trimmed when stored); `[]` means every team.",
    {
        "type": "array",
        "maxItems": LINEAR_TEAM_IDS_MAX_ITEMS,
        "items": {"type": "string", "minLength": 1, "maxLength": LINEAR_TEAM_ID_MAX_LENGTH},
    },
    _linear_team_ids,
)
COMMON_CONFIG_RULES = (
    # PostHog today checks linear_team_ids whatever the source, not only for linear.
    LINEAR_TEAM_IDS,
    ConfigRule(
        "steering",
        "Free-text guidance for how signals from this source are judged.",
        {"type": "string", "maxLength": STEERING_MAX_LENGTH},
        _steering,
    ),
    ConfigRule(
        "default_not_actionable",
        "Treat signals from this source as not actionable unless shown otherwise.",
        {"type": "boolean"},
        _default_not_actionable,
    ),
)

# --- The sources ---------------------------------------------------------------------------------
#
# Every pair PostHog's source says a product emits (PostHog itself accepts any product with any type;
# we accept only these, as the contract says). Where each comes from, in PostHog/posthog
# `products/signals/backend/`:
#   W = a data-warehouse emitter in `emission/registry.py` (and `emission/tests/test_tier1_registry.py`)
#   C = a signal contract variant in `contracts.py`, emitted directly by the product
#   P = the endpoint as first published (the seed page and our contract)
# `evaluation` (P) is retired: PostHog's choices no longer take it, so the new route refuses it
# (`RETIRED_TYPES`); the published route keeps it, as the contract documents it.

STATUS_WAREHOUSE = "warehouse sync"
STATUS_EMITTER = "product that emits the signals"


def _warehouse(product: str, source_type: str, table: str, rules: tuple[ConfigRule, ...] = ()) -> Source:
    return Source(
        product,
        source_type,
        f"{PRODUCT_LABELS[product]}: {table}",
        status_from=STATUS_WAREHOUSE,
        config_rules=rules,
    )


def _direct(product: str, source_type: str, rules: tuple[ConfigRule, ...] = ()) -> Source:
    return Source(
        product,
        source_type,
        f"{PRODUCT_LABELS[product]}: {TYPE_LABELS[source_type].lower()}",
        status_from=STATUS_EMITTER,
        config_rules=rules,
    )


# Enum values and labels in the order PostHog publishes them (`enums.py`, `models.py`).
PRODUCT_LABELS = {
    "session_replay": "Session replay",
    "llm_analytics": "LLM analytics",
    "github": "GitHub",
    "linear": "Linear",
    "jira": "Jira",
    "zendesk": "Zendesk",
    "conversations": "Conversations",
    "error_tracking": "Error tracking",
    "pganalyze": "pganalyze",
    "signals_scout": "Signals scout",
    "signals_check": "Report check",  # accepted by PostHog, but no config type is its (see below)
    "logs": "Logs",
    "health_checks": "Health checks",
    "endpoints": "Endpoints",
    "replay_vision": "Replay Vision",
    "analytics": "Product analytics",
    "freshdesk": "Freshdesk",
    "freshservice": "Freshservice",
    "front": "Front",
    "gorgias": "Gorgias",
    "kustomer": "Kustomer",
    "dixa": "Dixa",
    "plain": "Plain",
    "gitlab": "GitLab",
    "gitea": "Gitea",
    "shortcut": "Shortcut",
    "sentry": "Sentry",
    "rollbar": "Rollbar",
    "bugsnag": "Bugsnag",
    "honeybadger": "Honeybadger",
    "raygun": "Raygun",
    "datadog": "Datadog",
    "snyk": "Snyk",
    "sonarqube": "SonarQube",
    "semgrep": "Semgrep",
    "rapid7_insightvm": "Rapid7 InsightVM",
    "featurebase": "Featurebase",
    "frill": "Frill",
    "aha": "Aha",
    "uservoice": "UserVoice",
    "productboard": "Productboard",
    "canny": "Canny",
    "asknicely": "AskNicely",
    "retently": "Retently",
    "appfigures": "Appfigures",
    "appfollow": "AppFollow",
    "judgeme_reviews": "Judge.me",
    "intercom": "Intercom",
    "hubspot": "HubSpot",
    "engineering_analytics": "Engineering analytics",
    "google_search_console": "Google Search Console",
}
TYPE_LABELS = {
    "session_analysis_cluster": "Session analysis cluster",
    "evaluation": "Evaluation",  # the published type, retired by PostHog since (RETIRED_TYPES)
    "evaluation_report": "Evaluation report",
    "issue": "Issue",
    "ticket": "Ticket",
    "issue_created": "Issue created",
    "issue_reopened": "Issue reopened",
    "issue_spiking": "Issue spiking",
    "cross_source_issue": "Cross source issue",
    "alert_state_change": "Alert state change",
    "health_issue": "Health issue",
    "endpoint_execution_failed": "Endpoint execution failed",
    "endpoint_breakdown_limit_exceeded": "Endpoint breakdown limit exceeded",
    "scanner_finding": "Scanner finding",
    "anomaly_investigation": "Anomaly investigation",
    "feedback": "Feedback",
    "review": "Review",
    "ci_flaky_check": "CI flaky check",
    "ci_broken_default_branch": "CI broken default branch",
    "ci_duration_regression": "CI duration regression",
    "search_opportunity": "Search opportunity",
}
# Types PostHog no longer accepts for a config (on any write that carries `source_type`). Rows that
# have one stay readable, and the published route still takes them.
RETIRED_TYPES = frozenset({"evaluation"})

PRODUCT_CHOICES = list(PRODUCT_LABELS.items())
TYPE_CHOICES = list(TYPE_LABELS.items())

SOURCES: tuple[Source, ...] = (
    # The five published pairs first, in the contract's order (P; all five are also W or C today).
    Source(
        "session_replay",
        "session_analysis_cluster",
        "Session replay: session analysis clusters",
        status_from="session analysis workflow run",
        config_rules=(RECORDING_FILTERS, SAMPLE_RATE),
        # C: PostHog's serializer fills this in when it creates the config (new route only here).
        new_config_defaults={"sample_rate": 0.1},
    ),
    Source("llm_analytics", "evaluation", "LLM analytics: evaluations", status_from="evaluation workflow run"),  # P
    Source("github", "issue", "GitHub: issues", status_from=STATUS_WAREHOUSE),  # W github_issues
    Source("linear", "issue", "Linear: issues", status_from=STATUS_WAREHOUSE),  # W linear_issues
    Source("zendesk", "ticket", "Zendesk: tickets", status_from=STATUS_WAREHOUSE),  # W zendesk_tickets
    # C: emitted by PostHog's own products.
    _direct("llm_analytics", "evaluation_report"),  # LlmEvaluationReportSignalInput
    _direct("error_tracking", "issue_created"),  # ErrorTrackingSignalInput (all three)
    _direct("error_tracking", "issue_reopened"),
    _direct("error_tracking", "issue_spiking"),
    _direct("endpoints", "endpoint_execution_failed"),
    _direct("endpoints", "endpoint_breakdown_limit_exceeded"),
    _direct("signals_scout", "cross_source_issue"),  # on by default in PostHog; a row opts out
    _direct("logs", "alert_state_change"),
    _direct("analytics", "anomaly_investigation"),
    _direct("health_checks", "health_issue"),
    _direct("replay_vision", "scanner_finding"),  # needs no row in PostHog (always on); a row is harmless
    _direct("engineering_analytics", "ci_flaky_check"),
    _direct("engineering_analytics", "ci_broken_default_branch"),
    _direct("engineering_analytics", "ci_duration_regression"),
    # W: data-warehouse emitters (the table each reads).
    _warehouse("jira", "issue", "issues"),
    _warehouse("pganalyze", "issue", "issues"),
    _warehouse("conversations", "ticket", "tickets"),
    _warehouse("freshdesk", "ticket", "tickets"),
    _warehouse("freshservice", "ticket", "tickets"),
    _warehouse("front", "ticket", "conversations"),
    _warehouse("gorgias", "ticket", "tickets"),
    _warehouse("kustomer", "ticket", "conversations"),
    _warehouse("dixa", "ticket", "conversations"),
    _warehouse("plain", "ticket", "threads"),
    _warehouse("intercom", "ticket", "conversations"),
    _warehouse("hubspot", "ticket", "tickets"),
    _warehouse("gitlab", "issue", "issues"),
    _warehouse("gitea", "issue", "issues"),
    _warehouse("shortcut", "issue", "stories"),
    _warehouse("sentry", "issue", "issues"),
    _warehouse("rollbar", "issue", "items"),
    _warehouse("bugsnag", "issue", "errors"),
    _warehouse("honeybadger", "issue", "faults"),
    _warehouse("raygun", "issue", "error groups"),
    _warehouse("datadog", "issue", "error issues, spans, logs and incidents"),
    _warehouse("snyk", "scanner_finding", "issues"),
    _warehouse("sonarqube", "scanner_finding", "issues"),
    _warehouse("semgrep", "scanner_finding", "SAST findings"),
    _warehouse("rapid7_insightvm", "scanner_finding", "vulnerabilities"),
    _warehouse("featurebase", "feedback", "posts"),
    _warehouse("frill", "feedback", "ideas"),
    _warehouse("aha", "feedback", "ideas"),
    _warehouse("uservoice", "feedback", "suggestions"),
    _warehouse("productboard", "feedback", "notes"),
    _warehouse("canny", "feedback", "posts"),
    _warehouse("asknicely", "feedback", "responses"),
    _warehouse("retently", "feedback", "feedback"),
    _warehouse("appfigures", "review", "reviews"),
    _warehouse("appfollow", "review", "reviews"),
    _warehouse("judgeme_reviews", "review", "reviews"),
    _warehouse("google_search_console", "search_opportunity", "search opportunities"),
    # Not a pair: signals_check emits `check_failed`, a type PostHog takes for no config.
)

_BY_PAIR = {(source.product, source.type): source for source in SOURCES}


def get_source(product: str, source_type: str) -> Source | None:
    return _BY_PAIR.get((product, source_type))


def source_label(product: str, source_type: str) -> str:
    """The source's label for people; its pair name when the catalog no longer has it."""
    source = get_source(product, source_type)
    return source.label if source else pair_name(product, source_type)


def valid_types_for(product: str) -> list[str]:
    return [source.type for source in SOURCES if source.product == product]


def config_rules_for(product: str, source_type: str) -> tuple[ConfigRule, ...]:
    source = get_source(product, source_type)
    return (source.config_rules if source else ()) + COMMON_CONFIG_RULES


def clean_config(product: str, source_type: str, config: Any) -> dict:
    """Checks a whole config for a source and returns it as it should be stored.

    Raises ConfigError with the message the client sees.
    """
    if not isinstance(config, dict):
        raise ConfigError("config must be a JSON object")
    _check_storable(config)
    if len(orjson.dumps(config)) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config must be at most {MAX_CONFIG_BYTES // 1024} KiB when serialized as JSON")
    cleaned = dict(config)
    for rule in config_rules_for(product, source_type):
        if rule.key in cleaned:
            cleaned[rule.key] = rule.clean(cleaned[rule.key])
    return cleaned


def with_new_config_defaults(product: str, source_type: str, config: dict) -> dict:
    """The config a new config is stored with on a route that fills in defaults: the source's
    `new_config_defaults` for the keys the client left out (a key sent as null stays null)."""
    source = get_source(product, source_type)
    defaults = source.new_config_defaults if source else {}
    return config | {key: value for key, value in defaults.items() if key not in config}


# Deeper nesting is refused: no source's settings come near it, and the JSON encoders refuse ~254.
MAX_CONFIG_DEPTH = 64
# Numbers must read back as they were sent, from either database and in any client's JSON parser:
# integers a double holds exactly (JavaScript's safe range), and floats that PostgreSQL's jsonb,
# which writes numbers without an exponent, does not expand (1e308 reads back as 309 digits).
MAX_SAFE_INTEGER = 2**53 - 1
MAX_FLOAT_MAGNITUDE = 1e15
MIN_FLOAT_MAGNITUDE = 1e-6


def _check_storable(value: Any) -> None:
    """Refuses what a database cannot store faithfully: NUL characters (PostgreSQL text and jsonb
    reject them), unpaired surrogates, non-finite numbers, numbers that would not read back as sent,
    and nesting deeper than MAX_CONFIG_DEPTH. Walks iteratively so that a deeply nested value cannot
    exhaust the stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_CONFIG_DEPTH:
                raise ConfigError(f"config must be nested at most {MAX_CONFIG_DEPTH} levels deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            if "\x00" in item:
                raise ConfigError("config must not contain NUL characters")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ConfigError("config must contain only valid Unicode text") from None
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and abs(item) > MAX_SAFE_INTEGER:
            raise ConfigError(f"config integers must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ConfigError("config numbers must be finite")
        elif isinstance(item, float) and item and not MIN_FLOAT_MAGNITUDE <= abs(item) <= MAX_FLOAT_MAGNITUDE:
            raise ConfigError(
                f"config decimal numbers must be 0 or between {MIN_FLOAT_MAGNITUDE:g} and {MAX_FLOAT_MAGNITUDE:g}"
                " in magnitude, so that they read back exactly as sent"
            )
