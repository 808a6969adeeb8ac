"""The parsers' own rules (api/parsers.py), at their edges: how large and deep a JSON body may be,
which content types are merge patches, and how form fields are decoded."""

import io

import pytest
from django.test import RequestFactory
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from api.parsers import (
    MAX_JSON_DEPTH,
    MAX_JSON_NODES,
    ORJSONParser,
    StrictFormParser,
    StrictMultiPartParser,
    is_merge_patch,
)


def _parse(raw: bytes):
    return ORJSONParser().parse(io.BytesIO(raw))


def _nested(opening: bytes, closing: bytes, depth: int) -> bytes:
    return opening * depth + closing * depth


NESTINGS = pytest.mark.parametrize(
    ("opening", "closing", "sibling"), [(b"[", b"]", b",[]"), (b'{"a":', b"}", b',"b":[]')], ids=["arrays", "objects"]
)


@NESTINGS
def test_a_body_may_be_nested_as_deep_as_the_limit_and_no_deeper(opening, closing, sibling):
    deepest = _nested(opening, closing, MAX_JSON_DEPTH - 1).replace(closing, b"[]" + closing, 1)
    # One more container beside the outermost's first value: the byte count no longer rules the body
    # out, so the walk measures it, and it finds the same depth.
    walked = deepest[: -len(closing)] + sibling + closing
    assert _parse(deepest) is not None
    assert _parse(walked) is not None
    with pytest.raises(ParseError, match=rf"^JSON body is nested deeper than {MAX_JSON_DEPTH} levels\.$"):
        _parse(opening + deepest + closing)


@NESTINGS
def test_a_scalar_inside_the_deepest_containers_is_at_their_depth(opening, closing, sibling):
    deepest = _nested(opening, closing, MAX_JSON_DEPTH).replace(closing, b"0" + closing, 1)
    assert _parse(deepest) is not None
    assert _parse(deepest[: -len(closing)] + sibling + closing) is not None


def test_a_body_of_scalars_one_more_than_the_limit_is_refused_without_help_from_strings():
    # MAX_JSON_NODES numbers in an array: one value over. The commas alone let the byte counts allow
    # MAX_JSON_NODES values at most, so the body is walked and refused.
    with pytest.raises(ParseError, match=rf"^JSON body has more than {MAX_JSON_NODES} values\.$"):
        _parse(b"[" + b",".join([b"0"] * MAX_JSON_NODES) + b"]")


def test_a_body_may_hold_as_many_values_as_the_limit_and_no_more():
    # The array itself is one value: MAX_JSON_NODES - 1 values in it make the limit. The comma in the
    # string makes the byte counts allow more, so that the values are counted one by one.
    largest = b'[",",' + b",".join([b"0"] * (MAX_JSON_NODES - 2)) + b"]"
    assert len(_parse(largest)) == MAX_JSON_NODES - 1
    with pytest.raises(ParseError, match=rf"^JSON body has more than {MAX_JSON_NODES} values\.$"):
        _parse(b"[0," + largest[1:])
    # Commas and brackets inside strings are no values: a body that only looks large is taken.
    assert _parse(b'["' + b",[{" * MAX_JSON_NODES + b'"]') == [",[{" * MAX_JSON_NODES]


def test_a_body_that_is_no_json_says_so():
    with pytest.raises(ParseError, match=r"^JSON parse error - "):
        _parse(b'{"a": ')


@pytest.mark.parametrize(
    ("content_type", "merge_patch"),
    [
        ("application/merge-patch+json", True),
        ("Application/Merge-Patch+JSON ; charset=utf-8", True),
        ("application/merge-patch+json; charset=utf-8; profile=x", True),
        ("application/json; x=application/merge-patch+json", False),
        ("application/json", False),
    ],
)
def test_a_merge_patch_is_known_by_its_media_type_whatever_its_parameters(content_type, merge_patch):
    request = Request(RequestFactory().patch("/", b"{}", content_type=content_type))
    assert is_merge_patch(request) is merge_patch


def _form(raw: bytes, encoding: str):
    return StrictFormParser().parse(io.BytesIO(raw), parser_context={"encoding": encoding})


def test_form_fields_are_decoded_strictly_in_the_bodys_charset():
    assert _form(b"name=caf%C3%A9", "utf-8")["name"] == "café"
    assert _form(b"name=caf%E9", "iso-8859-1")["name"] == "café"
    with pytest.raises(ParseError, match=r"^Form body is not valid utf-8 text\.$"):
        _form(b"name=caf%E9", "utf-8")


def test_a_parsed_form_cannot_be_changed_afterwards():
    data = _form(b"name=a", "utf-8")
    with pytest.raises(AttributeError):
        data["name"] = "b"


def test_multipart_fields_are_decoded_strictly_in_the_bodys_charset():
    body = b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\ncaf\xe9\r\n--b--\r\n'
    content_type = "multipart/form-data; boundary=b"
    request = RequestFactory().post("/", body, content_type=content_type)

    def parse(encoding):
        context = {"request": request, "encoding": encoding}
        return StrictMultiPartParser().parse(io.BytesIO(body), content_type, context).data

    assert parse("iso-8859-1")["name"] == "café"
    with pytest.raises(ParseError, match=r"^Form body is not valid utf-8 text\.$"):
        parse("utf-8")
