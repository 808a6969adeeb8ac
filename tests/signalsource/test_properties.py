"""Property-based tests (Hypothesis) of the rules that are laws: RFC 7396 merge patch, the version
(ETag) that every write moves by one, and the catalog's config rules. Examples are bounded
(`max_examples`) so that the suite stays as fast as it was; the generated cases are drawn anew on
every run (no example database: `database=None`)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalsource import catalog, services
from signalsource.models import SignalSourceConfig
from tests.helpers import Tenant, assert_error, configs_url, make_config

# Function-scoped fixtures are not used inside the examples (each example makes its own rows).
FAST = settings(max_examples=40, deadline=None, database=None)
WITH_DATABASE = settings(
    max_examples=6, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def same_json(left, right) -> bool:
    """Equal as JSON documents: Python's `1 == True == 1.0` is not JSON's."""
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


# --- Merge patch (RFC 7396) -------------------------------------------------------------------------

# Text a config may hold (no NUL, no lone surrogate: the databases refuse those) and numbers that
# read back as sent (see catalog._check_storable).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
KEYS = st.sampled_from(["a", "b", "c", "steering_x", "n", "é"])
SCALARS = st.one_of(st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), TEXT)


def documents(values=SCALARS):
    """JSON objects without nulls (a merge patch cannot produce a null value)."""
    return st.recursive(
        st.dictionaries(KEYS, values, max_size=4),
        lambda children: st.dictionaries(KEYS, st.one_of(values, children, st.lists(values, max_size=3)), max_size=4),
        max_leaves=12,
    )


def diff(source: dict, target: dict) -> dict:
    """The merge patch that turns `source` into `target` (RFC 7396 section 1, read backwards)."""
    patch = {key: None for key in source if key not in target}
    for key, value in target.items():
        if key in source and isinstance(source[key], dict) and isinstance(value, dict):
            inner = diff(source[key], value)
            if inner:
                patch[key] = inner
        elif key not in source or not same_json(source[key], value):
            patch[key] = value
    return patch


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7396, appendix A: every example, whatever the target's or the patch's type
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_gives_every_result_of_the_rfcs_appendix(target, patch, result):
    assert same_json(services.merge_patch(target, patch), result)


@FAST
@given(documents(), documents())
def test_the_difference_of_two_documents_applied_to_the_first_gives_the_second(source, target):
    patch = diff(source, target)
    source_before, patch_before = json.dumps(source), json.dumps(patch)

    assert same_json(services.merge_patch(source, patch), target)
    # Neither argument is changed (the stored config and the client's body are read, not edited).
    assert (json.dumps(source), json.dumps(patch)) == (source_before, patch_before)


@FAST
@given(documents(), documents(values=st.one_of(SCALARS, st.none())))
def test_a_merge_patch_applied_twice_gives_what_it_gave_once(target, patch):
    once = services.merge_patch(target, patch)
    assert same_json(services.merge_patch(once, patch), once)


@FAST
@given(documents(), st.dictionaries(KEYS, st.none(), min_size=1, max_size=3))
def test_null_removes_each_key_it_names_whatever_its_value_was(target, patch):
    merged = services.merge_patch(target, patch)
    assert not set(patch) & set(merged)
    assert same_json(merged, {key: value for key, value in target.items() if key not in patch})


@WITH_DATABASE
@given(source=documents(), target=documents())
def test_a_merge_patch_sent_to_the_api_stores_the_second_document(db, source, target):
    tenant = Tenant()
    row = make_config(tenant.project, config=source)
    body = json.dumps({"config": diff(source, target)})

    response = tenant.client.generic(
        "PATCH", configs_url(tenant.project.id, row.id), body, content_type="application/merge-patch+json"
    )

    assert response.status_code == 200, response.content
    assert same_json(response.json()["config"], target)
    assert same_json(SignalSourceConfig.objects.get(pk=row.pk).config, target)


# --- Versions and ETags ------------------------------------------------------------------------------

WRITES = st.lists(
    st.one_of(
        st.tuples(st.just("patch"), st.fixed_dictionaries({"enabled": st.booleans()})),
        st.tuples(st.just("patch"), st.fixed_dictionaries({"config": documents()})),
        st.tuples(st.just("merge"), documents(values=st.one_of(SCALARS, st.none()))),
        st.tuples(st.just("put"), st.fixed_dictionaries({"enabled": st.booleans(), "config": documents()})),
        st.tuples(st.just("status"), st.sampled_from([None, "running", "completed", "failed"])),
        st.tuples(st.just("refused"), st.just({"enabled": "not a boolean"})),
    ),
    min_size=1,
    max_size=6,
)


def _write(tenant, row_id, kind, value, etag):
    """One write of `kind`. Every API write sends the ETag last seen, so each must be accepted."""
    item = configs_url(tenant.project.id, row_id)
    if kind == "status":
        services.set_status(SignalSourceConfig.objects.get(pk=row_id), value)
        return
    if kind == "merge":
        response = tenant.client.generic(
            "PATCH",
            item,
            json.dumps({"config": value}),
            content_type="application/merge-patch+json",
            HTTP_IF_MATCH=etag,
        )
    elif kind == "put":
        body = {"source_product": "github", "source_type": "issue", **value}
        url = configs_url(tenant.project.id, row_id, route="signals/source_configs")
        response = tenant.client.put(url, body, format="json", HTTP_IF_MATCH=etag)
    else:
        response = tenant.client.patch(item, value, format="json", HTTP_IF_MATCH=etag)
    if kind == "refused":
        assert_error(response, 400, attr="enabled")
    else:
        assert response.status_code == 200, response.content


def _state(row_id):
    return json.dumps(
        SignalSourceConfig.objects.filter(pk=row_id).values("enabled", "config", "status").get(), sort_keys=True
    )


@WITH_DATABASE
@given(writes=WRITES)
def test_every_change_moves_the_version_and_the_etag_by_one_and_nothing_else_moves_them(db, writes):
    tenant = Tenant()
    created = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")
    row_id = created.json()["id"]
    item = configs_url(tenant.project.id, row_id)
    etags = [created["ETag"]]
    versions = [SignalSourceConfig.objects.get(pk=row_id).version]

    for kind, value in writes:
        before = _state(row_id)
        _write(tenant, row_id, kind, value, etags[-1])
        changed = _state(row_id) != before
        etag, version = tenant.client.get(item)["ETag"], SignalSourceConfig.objects.get(pk=row_id).version
        # A change moves the version by exactly one; a refused write or one that changes nothing, not at all.
        assert version == versions[-1] + changed, (kind, value)
        assert (etag != etags[-1]) is changed
        etags.append(etag)
        versions.append(version)

    assert etags[-1] == f'"{versions[-1]}"'
    assert versions == sorted(versions)  # never backwards, so an ETag once superseded never comes back
    superseded = [etag for etag in etags if etag != etags[-1]]
    if superseded:
        refused = tenant.client.patch(item, {"enabled": True}, format="json", HTTP_IF_MATCH=superseded[0])
        assert_error(refused, 412, code="precondition_failed")
        assert SignalSourceConfig.objects.get(pk=row_id).version == versions[-1]


# --- The catalog's config rules -----------------------------------------------------------------------

PLAIN_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
TEAM_ID = st.builds(
    lambda padding, core, trailing: padding + core + trailing,
    st.sampled_from(["", " ", "  "]),
    st.text(st.characters(whitelist_categories=("L", "N"), max_codepoint=0x2FF), min_size=1, max_size=20),
    st.sampled_from(["", " ", "\t"]),
)
SESSION_REPLAY = ("session_replay", "session_analysis_cluster")
# (rule key, the source that checks it, values it accepts, values it refuses)
RULES = {
    "sample_rate": (
        SESSION_REPLAY,
        st.one_of(st.integers(0, 1), st.floats(0, 1).filter(lambda x: x == 0 or x >= 1e-6)),
        st.one_of(
            st.floats(1.0001, 1e6),
            st.floats(-1e6, -0.0001),
            st.booleans(),
            PLAIN_TEXT,
            st.none(),
            st.lists(st.integers(0, 1), max_size=2),
        ),
    ),
    "recording_filters": (
        SESSION_REPLAY,
        st.dictionaries(KEYS, SCALARS, max_size=3),
        st.one_of(SCALARS, st.none(), st.lists(SCALARS, max_size=3)),
    ),
    "steering": (
        ("github", "issue"),
        PLAIN_TEXT,
        st.one_of(
            st.integers(-1000, 1000), st.booleans(), st.none(), st.lists(PLAIN_TEXT, max_size=2), st.just("x" * 2001)
        ),
    ),
    "default_not_actionable": (
        ("zendesk", "ticket"),
        st.booleans(),
        st.one_of(st.integers(0, 1), PLAIN_TEXT, st.none(), st.lists(st.booleans(), max_size=2)),
    ),
    "linear_team_ids": (
        ("linear", "issue"),
        st.lists(TEAM_ID, max_size=5),
        st.one_of(
            PLAIN_TEXT,
            st.none(),
            st.lists(st.integers(-1000, 1000), min_size=1, max_size=3),
            st.lists(st.sampled_from(["", " ", "\t "]), min_size=1, max_size=3),
            st.just(["t" * 256]),
            st.just(["a"] * 101),
        ),
    ),
}


@FAST
@given(data=st.data())
@pytest.mark.parametrize("key", list(RULES))
def test_a_value_a_rule_accepts_is_stored_as_the_rule_cleans_it(key, data):
    (product, source_type), valid, _ = RULES[key]
    value = data.draw(valid)
    cleaned = catalog.clean_config(product, source_type, {key: value, "other": 1})
    expected = [item.strip() for item in value] if key == "linear_team_ids" else value
    assert same_json(cleaned, {key: expected, "other": 1})


@FAST
@given(data=st.data())
@pytest.mark.parametrize("key", list(RULES))
def test_a_value_a_rule_refuses_is_a_config_error_naming_the_key(key, data):
    (product, source_type), _, invalid = RULES[key]
    value = data.draw(invalid)
    with pytest.raises(catalog.ConfigError, match=key):
        catalog.clean_config(product, source_type, {key: value})


@WITH_DATABASE
@given(data=st.data())
@pytest.mark.parametrize("key", list(RULES))
def test_the_api_refuses_a_broken_rule_with_attr_config_and_writes_nothing(db, key, data):
    (product, source_type), _, invalid = RULES[key]
    value = data.draw(invalid)
    tenant = Tenant()
    body = {"source_product": product, "source_type": source_type, "config": {key: value}}

    response = tenant.client.post(tenant.url, body, format="json")

    assert_error(response, 400, "validation_error", attr="config")
    assert key in response.json()["detail"]
    assert not SignalSourceConfig.objects.filter(project=tenant.project).exists()
