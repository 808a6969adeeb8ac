"""The feed's page and its events as the OpenAPI description shows them (the view builds the
answer itself: `services.as_cloudevent`), and the feed's errors."""

from rest_framework import exceptions, serializers, status

from .services import DEFAULT_PAGE, MAX_PAGE


class CloudEventSerializer(serializers.Serializer):
    specversion = serializers.CharField(help_text='CloudEvents version: `"1.0"`.')
    id = serializers.CharField(help_text="`<config id>:<version>`: the same each time the event is delivered.")
    source = serializers.CharField(help_text="`/api/projects/<project id>/signals/source_configs/<config id>`.")
    type = serializers.CharField(
        help_text="`signal_source_config.created`, `.updated`, `.deleted` or `.status_changed`."
    )
    subject = serializers.CharField(help_text="The config's id.")
    time = serializers.DateTimeField(help_text="When the change was written (RFC 3339).")
    datacontenttype = serializers.CharField(help_text="`application/json`.")
    sequence = serializers.CharField(
        help_text="The config's version after the change, zero-padded to 20 digits (sorts as a string); "
        "strictly increasing per config."
    )
    partitionkey = serializers.CharField(help_text="The config's id: events with the same key are in order.")
    projectid = serializers.CharField(help_text="The project's id.")
    data = serializers.JSONField(
        help_text="`config`: the config as `/signals/source_configs/{id}/` returns it after the change (as it "
        "was, for a delete); `changes`: the activity record's `detail.changes`; `actor`: the record's actor."
    )


class ChangeFeedPageSerializer(serializers.Serializer):
    results = CloudEventSerializer(many=True, help_text="The events after the cursor given, oldest first.")
    cursor = serializers.CharField(
        help_text="Opaque: the position after the last event returned (the one given when nothing is new). "
        "Send it as `after` to continue."
    )
    next = serializers.URLField(
        allow_null=True, help_text="This route with `after=<cursor>`, or null when nothing more is waiting now."
    )


class CursorExpired(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This cursor is older than the feed's retention: read the configs again and start anew."
    default_code = "cursor_expired"
    default_type = "invalid_request"


class MalformedCursor(exceptions.ValidationError):
    default_detail = {"after": ["Not a cursor this feed gave."]}
    default_code = "invalid_cursor"


class BadLimit(exceptions.ValidationError):
    default_detail = {"limit": [f"Must be an integer from 1 to {MAX_PAGE} (default {DEFAULT_PAGE})."]}
    default_code = "invalid"
