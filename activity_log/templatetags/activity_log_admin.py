from django import template

from activity_log.admin import format_changes, format_who

register = template.Library()


@register.simple_tag
def activity_changes(record):
    return format_changes(record)


@register.simple_tag
def activity_who(record):
    return format_who(record)
