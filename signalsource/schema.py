"""How a config's `config` and `status` appear in the OpenAPI description, and the request examples,
derived from the catalog and the model so that the description cannot drift from the behaviour."""

from . import catalog
from .models import ProcessingStatus


def source_name(source: catalog.Source) -> str:
    return f"{source.product}/{source.type}"


def key_schema(key: str, schemas: list[dict]) -> dict:
    """One key's schema: the one every source checking it shares, or any of theirs."""
    distinct = [schema for index, schema in enumerate(schemas) if schema not in schemas[:index]]
    return dict(distinct[0]) if len(distinct) == 1 else {"anyOf": distinct}


def config_schema() -> dict:
    """The `config` object: its known keys typed from the catalog, and any other key kept as sent.

    A key that only some sources check (`sample_rate`, ...) is typed as those sources require; the
    other sources keep it as sent. Each source's own keys are also a component of their own
    (`source_config_components`).
    """
    checked_by: dict[str, list[catalog.Source]] = {}
    rules: dict[str, list[catalog.ConfigRule]] = {}
    for source in catalog.SOURCES:
        for rule in source.config_rules:
            checked_by.setdefault(rule.key, []).append(source)
            rules.setdefault(rule.key, []).append(rule)
    properties = {
        key: {
            **key_schema(key, [rule.schema for rule in rules[key]]),
            "description": f"{rules[key][0].description} Checked for "
            f"{', '.join(f'`{source_name(source)}`' for source in sources)}; other sources keep it as sent.",
        }
        for key, sources in checked_by.items()
    }
    for rule in catalog.COMMON_CONFIG_RULES:
        properties[rule.key] = {**rule.schema, "description": f"{rule.description} Checked for every source."}
    return {
        "type": "object",
        "additionalProperties": True,
        "properties": properties,
        "description": "Settings of this source. Known keys are checked; other keys are kept as sent. "
        "Replaced as a whole on update. No string in it may contain a NUL character, and its JSON "
        f"form is at most {catalog.MAX_CONFIG_BYTES // 1024} KiB. An error about it has `attr` "
        "`config`, and its `detail` names the key at fault. Each source's known keys are also "
        "described on their own, as the `...Config` components.",
    }


def source_config_component_name(source: catalog.Source) -> str:
    words = f"{source.product}_{source.type}".split("_")
    return "".join(word[:1].upper() + word[1:] for word in words) + "Config"


def source_config_components() -> dict[str, dict]:
    """One component per source: the config keys it checks, typed."""
    return {
        source_config_component_name(source): {
            "type": "object",
            "additionalProperties": True,
            "description": f"`config` of a `{source_name(source)}` source ({source.label}).",
            "properties": {
                rule.key: {**rule.schema, "description": rule.description}
                for rule in catalog.config_rules_for(source.product, source.type)
            },
        }
        for source in catalog.SOURCES
    }


def add_source_config_components(result, generator, request, public):
    """drf-spectacular postprocessing hook: adds `source_config_components`."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(source_config_components())
    return result


def inline_status_enum(result, generator, request, public):
    """drf-spectacular postprocessing hook: `status` as one nullable string enum, in place.

    drf-spectacular's enum hook turns it into `oneOf: [StatusEnum, NullEnum]` beside `nullable` with
    no `type`, which OpenAPI 3.0 linters refuse (Redocly's nullable-type-sibling)."""
    schemas = result.get("components", {}).get("schemas", {})
    for schema in schemas.values():
        status = schema.get("properties", {}).get("status")
        if status is not None and "oneOf" in status and schema.get("properties", {}).get("id"):
            extra = {name: status[name] for name in ("readOnly",) if name in status}
            schema["properties"]["status"] = {**STATUS_SCHEMA, **extra}
    referenced = str(result)
    for name in ("StatusEnum", "NullEnum"):
        if f"#/components/schemas/{name}'" not in referenced:
            schemas.pop(name, None)
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


def example_source() -> catalog.Source:
    """The source the examples use: the one whose config has the most known keys."""
    return max(catalog.SOURCES, key=lambda source: len(source.config_rules))


def create_example() -> dict:
    """A create body that succeeds on a project without this source yet."""
    source = example_source()
    return {
        "source_product": source.product,
        "source_type": source.type,
        "enabled": True,
        "config": {rule.key: example_value(rule.schema) for rule in source.config_rules},
    }


def partial_update_example() -> dict:
    """A PATCH body that succeeds on any config (only keys every source checks)."""
    return {"enabled": False, "config": {rule.key: example_value(rule.schema) for rule in catalog.COMMON_CONFIG_RULES}}


CONFIG_SCHEMA = config_schema()

STATUS_SCHEMA = {
    "type": "string",
    "enum": [*ProcessingStatus.values, None],
    "nullable": True,
    "description": "State of the source's latest processing run, or null when unknown.",
}
