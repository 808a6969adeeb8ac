"""The admin's form for a signal source config. Its rules are the services' (the same as the API's,
with the same messages); the form shows their errors on its own fields."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from . import catalog, services
from .models import ProcessingStatus, SignalSourceConfig

SOURCE_CHOICES = [(catalog.pair_name(s.product, s.type), s.label) for s in catalog.SOURCES]


def config_keys_help(product: str | None = None, source_type: str | None = None) -> str:
    """The config keys the catalog knows, for one source or for each of them."""
    if product is not None:
        return "Known keys: " + ", ".join(rule.key for rule in catalog.config_rules_for(product, source_type)) + "."
    # Every source's keys once, then what the few sources with keys of their own add (the full
    # catalog listed source by source would repeat the same three keys some fifty times).
    every = ", ".join(rule.key for rule in catalog.COMMON_CONFIG_RULES)
    own = "".join(
        f" {s.label} also: {', '.join(rule.key for rule in s.config_rules)}." for s in catalog.SOURCES if s.config_rules
    )
    return f"A JSON object. Known keys of every source: {every}.{own} Other keys are kept as sent."


# The services' messages name the API's fields; the admin's form has one "Source" field instead.
ADMIN_MESSAGES = {"unique": "This project already has a config for this source."}


def admin_messages(error: ValidationError) -> list[str]:
    """A service error's messages, in the admin's words where they differ."""
    if hasattr(error, "error_dict"):
        items = [item for items in error.error_dict.values() for item in items]
    else:
        items = error.error_list
    return [ADMIN_MESSAGES.get(item.code) or " ".join(item.messages) for item in items]


class FormattedJSONField(forms.JSONField):
    """JSON shown indented for people to read and edit. An empty box means `{}`."""

    widget = forms.Textarea(attrs={"rows": 14, "cols": 90, "spellcheck": "false", "style": "font-family: monospace"})

    def to_python(self, value):
        if isinstance(value, str) and not value.strip():
            return {}
        return super().to_python(value)

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class SignalSourceConfigAdminForm(forms.ModelForm):
    # One select of the catalog's valid product/type pairs; the admin drops it after creation.
    source = forms.ChoiceField(choices=[("", "---------"), *SOURCE_CHOICES])
    config = FormattedJSONField(required=False, initial=dict)
    status = forms.ChoiceField(choices=[("", "Unknown (nothing reported)"), *ProcessingStatus.choices], required=False)

    class Meta:
        model = SignalSourceConfig
        # `source` is declared above, not a model field; listing it here would stop the admin from
        # dropping it once the config exists.
        fields = ["project", *SignalSourceConfig.EDITABLE_FIELDS, "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "config" in self.fields:
            # Not `pk`: the UUIDv7 default fills it in before the config is saved.
            if not self.instance._state.adding:
                help_text = config_keys_help(self.instance.source_product, self.instance.source_type)
            else:
                help_text = config_keys_help()
            self.fields["config"].help_text = help_text

    def source_pair(self) -> tuple[str, str] | tuple[None, None]:
        """The product and type: chosen in the form on creation, the instance's afterwards."""
        if "source" not in self.fields:
            return self.instance.source_product, self.instance.source_type
        value = self.cleaned_data.get("source")
        if not value:
            return None, None
        return catalog.split_pair_name(value)

    def clean(self):
        cleaned_data = super().clean()
        product, source_type = self.source_pair()
        # A field that failed the form's own checks (JSON that does not parse) has no value to check.
        if product is None or any(name not in cleaned_data for name in SignalSourceConfig.EDITABLE_FIELDS):
            return cleaned_data
        try:
            if "source" in self.fields:  # a new config
                self.instance.source_product, self.instance.source_type = product, source_type
                if cleaned_data.get("project") is not None:
                    checked = services.validate_new_config(
                        project=cleaned_data["project"],
                        source_product=product,
                        source_type=source_type,
                        **self.editable_values(),
                    )
            else:
                checked = services.validate_changes(self.instance, **self.editable_values())
            # As the services store them (the config's values trimmed, ...).
            cleaned_data.update({name: checked[name] for name in SignalSourceConfig.EDITABLE_FIELDS})
        except ValidationError as error:
            self.add_service_error(error)
        return cleaned_data

    def editable_values(self) -> dict:
        """The fields a client edits, as this form has cleaned them."""
        return {
            name: self.cleaned_data[name] for name in SignalSourceConfig.EDITABLE_FIELDS if name in self.cleaned_data
        }

    def add_service_error(self, error: ValidationError) -> None:
        """Shows a service's error on the form field it is about (the source is one field here), in
        the admin's words where the service's speak the API's field names."""
        for field, errors in error.error_dict.items():
            form_field = "source" if field in SignalSourceConfig.SOURCE_FIELDS else field
            self.add_error(form_field if form_field in self.fields else None, admin_messages(ValidationError(errors)))
