"""How a config's `config` and `status` appear in the OpenAPI description, and the request examples,
derived from the catalog and the model so that the description cannot drift from the behaviour."""

from drf_spectacular.utils import OpenApiExample

from api.parsers import MERGE_PATCH_MEDIA_TYPE

from . import catalog
from .models import ProcessingStatus


def source_name(source: catalog.Source) -> str:
    return catalog.pair_name(source.product, source.type)


def own_config_sources() -> list[catalog.Source]:
    """The sources that check keys of their own, beyond the keys every source checks."""
    return [source for source in catalog.SOURCES if source.config_rules]


# What `catalog._check_storable` accepts of any number in a config, whatever its key (a number must
# read back as sent): said in words, as no JSON Schema keyword bounds a number's magnitude.
NUMBERS_RULE = (
    f"an integer in it is between -{catalog.MAX_SAFE_INTEGER} and {catalog.MAX_SAFE_INTEGER}, and a decimal "
    f"number 0 or between {catalog.MIN_FLOAT_MAGNITUDE:g} and {catalog.MAX_FLOAT_MAGNITUDE:g} in magnitude "
    "(positive or negative)."
)


def config_schema() -> dict:
    """The `config` object, as every source takes it: the keys every source checks, typed, and any
    other key kept as sent.

    A key that only some sources check (`sample_rate`, ...) is not typed here: another source keeps
    it as sent, whatever its value, so a type here would be wrong for that source. Those sources'
    keys are typed in a component of their own (`source_config_components`).
    """
    own = "; ".join(
        f"`{source_name(source)}` also checks {', '.join(f'`{rule.key}`' for rule in source.config_rules)} "
        f"(the `{source_config_component_name(source)}` component)"
        for source in own_config_sources()
    )
    return {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            rule.key: {**rule.schema, "description": f"{rule.description} Checked for every source."}
            for rule in catalog.COMMON_CONFIG_RULES
        },
        "description": "Settings of this source. The keys below are checked for every source; "
        f"{own}. Any other key is kept as sent. Replaced as a whole on update. No string in it may "
        f"contain a NUL character; {NUMBERS_RULE} Its JSON form is at most "
        f"{catalog.MAX_CONFIG_BYTES // 1024} KiB. An error about it has `attr` `config`, and its "
        "`detail` names the key at fault.",
    }


def source_config_component_name(source: catalog.Source) -> str:
    words = f"{source.product}_{source.type}".split("_")
    return "".join(word[:1].upper() + word[1:] for word in words) + "Config"


def source_config_components() -> dict[str, dict]:
    """One component per source that checks keys of its own: every key it checks, typed. (Any other
    source's `config` is the shared `config` schema.)"""
    components = {}
    for source in own_config_sources():
        description = f"`config` of a `{source_name(source)}` source ({source.label})."
        if source.new_config_defaults:
            defaults = ", ".join(f"`{key}` {value}" for key, value in source.new_config_defaults.items())
            description += f" A new one made on `signals/source_configs/` gets {defaults} when the body leaves it out."
        components[source_config_component_name(source)] = {
            "type": "object",
            "additionalProperties": True,
            "description": description,
            "properties": {
                rule.key: {**rule.schema, "description": rule.description}
                for rule in catalog.config_rules_for(source.product, source.type)
            },
        }
    return components


def add_source_config_components(result, generator, request, public):
    """drf-spectacular postprocessing hook: adds `source_config_components`."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(source_config_components())
    return result


def example_value(schema: dict):
    """A value that satisfies a catalog rule's schema (the rules' schemas are simple)."""
    if "example" in schema:
        return schema["example"]
    kind = schema.get("type")
    if kind == "object":
        return {}
    if kind == "array":
        return [example_value(schema.get("items", {}))]
    if kind == "boolean":
        return False
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 1)
        return (low + high) / 2 if kind == "number" else low
    return "example"


# The pair the create and replace examples use: one that no walk-through in README.md or docs/
# creates, so that Swagger UI's prefilled create still succeeds after a reader has followed them
# (tests/config/test_admin_browser.py creates the docs' pairs first).
EXAMPLE_PAIR = ("google_search_console", "search_opportunity")
EXAMPLE_STEERING = "Only pages with more than 1,000 impressions a week"


def example_source() -> catalog.Source:
    return catalog.get_source(*EXAMPLE_PAIR)


def create_example() -> dict:
    """A create body that succeeds on a project without this source yet."""
    source = example_source()
    return {
        "source_product": source.product,
        "source_type": source.type,
        "enabled": True,
        "config": {"steering": EXAMPLE_STEERING, "default_not_actionable": False},
    }


def partial_update_example() -> dict:
    """A PATCH body that succeeds on any config (only keys every source checks)."""
    return {"enabled": False, "config": {rule.key: example_value(rule.schema) for rule in catalog.COMMON_CONFIG_RULES}}


def merge_patch_example() -> dict:
    """A merge patch that succeeds on any config: sets one key every source checks, removes another,
    keeps the rest."""
    return {"config": {"steering": EXAMPLE_STEERING, "default_not_actionable": None}}


def request_example(method: str, media_type: str = "application/json") -> OpenApiExample:
    """The request example of a create (POST), a full update (PUT) or a partial one (PATCH), as JSON
    or as a merge patch."""
    if method == "PATCH" and media_type == MERGE_PATCH_MEDIA_TYPE:
        return OpenApiExample(
            "Merge",
            value=merge_patch_example(),
            request_only=True,
            description="Succeeds on any config: sets `steering`, removes `default_not_actionable` and keeps "
            "every other key.",
        )
    if method == "PATCH":
        return OpenApiExample(
            "Change", value=partial_update_example(), request_only=True, description="Succeeds on any config."
        )
    source = example_source()
    if method == "PUT":
        description = (
            f"Succeeds on a `{source_name(source)}` config: a PUT sends the config's own `source_product` and "
            "`source_type`, and replaces what else it sends."
        )
        return OpenApiExample("Replace", value=create_example(), request_only=True, description=description)
    description = f"Succeeds on a project with no `{source_name(source)}` config yet."
    return OpenApiExample("Create", value=create_example(), request_only=True, description=description)


CONFIG_SCHEMA = config_schema()

STATUS_SCHEMA = {
    "type": "string",
    "enum": [*ProcessingStatus.values, None],
    "nullable": True,
    "description": "State of the source's latest processing run, or null when unknown.",
}
