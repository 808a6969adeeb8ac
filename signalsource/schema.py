"""How a config's `config` and `status` appear in the OpenAPI description, derived from the catalog
and the model so that the description cannot drift from the behaviour."""

from . import catalog
from .models import ProcessingStatus


def config_schema() -> dict:
    """The `config` object: its known keys from the catalog, and any other key kept as sent.

    A key that only some sources check (`sample_rate`, ...) is kept as sent by the others, so its
    schema cannot constrain the value for every config; its rule is given per source in
    `x-checked-for` instead. Keys every source checks are typed in the schema itself.
    """
    checked_for: dict[str, dict[str, dict]] = {}
    descriptions: dict[str, str] = {}
    for source in catalog.SOURCES:
        for rule in source.config_rules:
            checked_for.setdefault(rule.key, {})[f"{source.product}/{source.type}"] = rule.schema
            descriptions.setdefault(rule.key, rule.description)
    properties = {
        key: {
            "description": f"{descriptions[key]} Checked for {', '.join(sources)}; other sources keep it as sent.",
            "x-checked-for": sources,
        }
        for key, sources in checked_for.items()
    }
    for rule in catalog.COMMON_CONFIG_RULES:
        properties[rule.key] = {**rule.schema, "description": f"{rule.description} Checked for every source."}
    return {
        "type": "object",
        "additionalProperties": True,
        "properties": properties,
        "description": "Settings of this source. Known keys are checked; other keys are kept as sent. "
        "Replaced as a whole on update. No string in it may contain a NUL character, and its JSON "
        f"form is at most {catalog.MAX_CONFIG_BYTES // 1024} KiB. In form bodies, a JSON-encoded string.",
    }


CONFIG_SCHEMA = config_schema()

STATUS_SCHEMA = {
    "type": "string",
    "nullable": True,
    "description": "State of the source's latest processing run: "
    f"{', '.join(f'`{value}`' for value in ProcessingStatus.values)}, or null when unknown.",
}
