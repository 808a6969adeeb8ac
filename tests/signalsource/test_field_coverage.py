"""Every field of a config reaches every place that must know it: a new field that a place forgot
fails here, naming the place (docs/extending.md is the recipe these tests keep honest).

Each field is of one kind (`SignalSourceConfig.SOURCE_FIELDS`, `EDITABLE_FIELDS`, `SYSTEM_FIELDS`).
An editable field is walked through create (both routes), PATCH, PUT, the activity record, the
representation and the admin's form; every field through the representation (or its named
exclusion), the activity log (or its named exclusion) and the benchmark's peer, floor and seed.
"""

import ast
import re

import pytest

from activity_log.models import ActivityLog
from signalsource import activity, services
from signalsource.admin import SignalSourceConfigAdmin
from signalsource.forms import SignalSourceConfigAdminForm
from signalsource.models import SignalSourceConfig
from signalsource.serializers import NOT_SHOWN_FIELDS, SignalSourceConfigSerializer, SignalsSourceConfigSerializer
from tests.helpers import PROJECT_DIR, SIGNALS_ROUTE, configs_url, make_config

FIELDS = [field.name for field in SignalSourceConfig._meta.concrete_fields]
COLUMNS = [field.column for field in SignalSourceConfig._meta.concrete_fields]
EDITABLE = SignalSourceConfig.EDITABLE_FIELDS

# For each editable field, a value a `github`/`issue` config takes that is not the field's default:
# what the walk below writes. A new editable field needs its sample here.
SAMPLES = {"enabled": False, "config": {"steering": "Only issues labelled bug"}}
SOURCE = {"source_product": "github", "source_type": "issue"}


def test_every_field_is_of_exactly_one_kind():
    kinds = [SignalSourceConfig.SOURCE_FIELDS, SignalSourceConfig.EDITABLE_FIELDS, SignalSourceConfig.SYSTEM_FIELDS]
    for name in FIELDS:
        found = sum(name in kind for kind in kinds)
        assert found == 1, (
            f"signalsource/models.py: put {name!r} in exactly one of SOURCE_FIELDS, EDITABLE_FIELDS, SYSTEM_FIELDS"
        )
    assert {name for kind in kinds for name in kind} == set(FIELDS), "models.py names a field the model lacks"


def test_every_editable_field_has_a_cleaner_and_a_sample():
    assert set(services.CLEANERS) == set(EDITABLE), "signalsource/services.py: CLEANERS, one per editable field"
    assert set(SAMPLES) == set(EDITABLE), "tests/signalsource/test_field_coverage.py: SAMPLES, one per editable field"
    for name, sample in SAMPLES.items():
        assert sample != SignalSourceConfig._meta.get_field(name).get_default(), f"SAMPLES[{name!r}] is the default"


@pytest.mark.parametrize("serializer_class", [SignalSourceConfigSerializer, SignalsSourceConfigSerializer])
@pytest.mark.parametrize("name", FIELDS)
def test_every_field_is_shown_or_named_as_not_shown(serializer_class, name):
    shown = serializer_class.Meta.fields
    assert (name in shown) != (name in NOT_SHOWN_FIELDS), (
        f"signalsource/serializers.py: {name!r} must be in the representation or in NOT_SHOWN_FIELDS (not both)"
    )


@pytest.mark.parametrize("name", FIELDS)
def test_every_field_is_logged_or_named_as_not_logged(name):
    assert (name in activity.LOGGED_FIELDS) != (name in activity.NOT_LOGGED_FIELDS), (
        f"signalsource/activity.py: {name!r} must be logged or in NOT_LOGGED_FIELDS"
    )


@pytest.mark.parametrize("name", EDITABLE)
def test_the_admin_form_and_pages_edit_every_editable_field(name):
    assert name in SignalSourceConfigAdminForm.base_fields, f"signalsource/forms.py: the form lacks {name!r}"
    model_admin = SignalSourceConfigAdmin(SignalSourceConfig, None)
    for obj in (None, SignalSourceConfig(**SOURCE)):
        shown = [field for _, options in model_admin.get_fieldsets(None, obj) for field in options["fields"]]
        assert name in shown, f"signalsource/admin.py: the {'add' if obj is None else 'change'} page lacks {name!r}"


def _stored(config_id) -> dict:
    return SignalSourceConfig.objects.filter(pk=config_id).values(*EDITABLE).get()


def _logged_fields(config_id) -> set[str]:
    record = ActivityLog.objects.filter(item_id=str(config_id), activity=activity.UPDATED).latest("created_at")
    return {change["field"].split(".")[0] for change in record.detail["changes"]}


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["signal_source_configs", SIGNALS_ROUTE])
@pytest.mark.parametrize("name", EDITABLE)
def test_a_create_stores_and_shows_every_editable_field(tenant, route, name):
    body = {**SOURCE, name: SAMPLES[name]}

    response = tenant.client.post(configs_url(tenant.project.id, route=route), body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()[name] == SAMPLES[name], "the representation (signalsource/serializers.py)"
    assert _stored(response.json()["id"])[name] == SAMPLES[name], "create_config (signalsource/services.py)"


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "route"), [("patch", "signal_source_configs"), ("put", SIGNALS_ROUTE)])
@pytest.mark.parametrize("name", EDITABLE)
def test_an_update_stores_shows_and_logs_every_editable_field(tenant, method, route, name):
    config = make_config(tenant.project, **SOURCE)
    body = {**SOURCE, name: SAMPLES[name]} if method == "put" else {name: SAMPLES[name]}

    detail = configs_url(tenant.project.id, config.id, route=route)

    response = getattr(tenant.client, method)(detail, body, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()[name] == SAMPLES[name], "the representation (signalsource/serializers.py)"
    assert _stored(config.id)[name] == SAMPLES[name], "update_config (signalsource/services.py)"
    assert name in _logged_fields(config.id), "the activity record (signalsource/activity.py)"


def _peer_fields() -> set[str]:
    tree = ast.parse((PROJECT_DIR / "bench/peer/models.py").read_text())
    [model] = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "SignalSourceConfig"]
    return {target.id for node in model.body if isinstance(node, ast.Assign) for target in node.targets}


def _insert_columns(path: str) -> set[str]:
    source = (PROJECT_DIR / path).read_text()
    # "INSERT INTO signalsource_signalsourceconfig (a, b, ...)", its parts joined across string literals.
    text = re.sub(r'"\s*\n\s*f?"', "", source)
    match = re.search(r"INSERT INTO signalsource_signalsourceconfig \(([^)]*)\)", text)
    assert match, f"{path}: no INSERT of the configs' table found"
    return {column.strip() for column in match.group(1).split(",")}


def _seed_columns() -> set[str]:
    source = (PROJECT_DIR / "bench/seed.py").read_text()
    match = re.search(r'"signalsource_signalsourceconfig",\s*\[([^\]]*)\]', source)
    assert match, "bench/seed.py: no COPY of the configs' table found"
    return set(re.findall(r'"([^"]+)"', match.group(1)))


@pytest.mark.parametrize("name", FIELDS)
def test_the_benchmarks_peer_floor_and_seed_write_every_column(name):
    column = SignalSourceConfig._meta.get_field(name).column
    assert name in _peer_fields(), f"bench/peer/models.py: the peer's SignalSourceConfig lacks {name!r}"
    assert column in _insert_columns("bench/floor_app.py"), f"bench/floor_app.py: the floor's INSERT lacks {column!r}"
    assert column in _seed_columns(), f"bench/seed.py: the seed's COPY lacks {column!r}"


def test_the_extending_guide_names_files_that_exist_and_every_place_checked_here():
    guide = (PROJECT_DIR / "docs/extending.md").read_text()
    named = set(re.findall(r"`([\w/]+\.(?:py|md|yaml))`", guide))
    missing = sorted(path for path in named if "/" in path and not (PROJECT_DIR / path).exists())
    assert missing == [], f"docs/extending.md names files that do not exist: {missing}"
    places = {
        "signalsource/models.py",
        "signalsource/services.py",
        "signalsource/serializers.py",
        "signalsource/activity.py",
        "signalsource/forms.py",
        "signalsource/admin.py",
        "bench/peer/models.py",
        "bench/floor_app.py",
        "bench/seed.py",
        "tests/signalsource/test_field_coverage.py",
    }
    assert places <= named, f"docs/extending.md does not name {sorted(places - named)}"
