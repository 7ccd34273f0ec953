"""channels_classic.handler.request: http.request messages → HttpRequest (no channel layer)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels_classic.exceptions import ResponseLater
from channels_classic.handler import AsgiRequest, BadRequestMessage
from channels_classic.handler.request import parse_request_message, split_path

from .helpers import request_content

# -- META, GET, COOKIES ---------------------------------------------------------------------


def test_meta_from_a_full_message():
    request = AsgiRequest(request_content(
        "/describe/",
        method="post",
        query_string=b"a=1&b=2&a=3",
        headers=[
            [b"host", b"localhost:8443"],
            [b"content-type", b"application/json; charset=latin-1"],
            [b"content-length", b"0"],
            [b"x-multi", b"one"],
            [b"accept", b"*/*"],
            [b"x-multi", b"two"],
        ],
        client=["10.0.0.7", 40404],
        server=["10.0.0.1", 8443],
        http_version="2",
    ))
    meta = request.META
    assert meta["REQUEST_METHOD"] == request.method == "POST"
    assert meta["QUERY_STRING"] == "a=1&b=2&a=3"
    assert meta["SCRIPT_NAME"] == ""
    assert meta["PATH_INFO"] == request.path_info == request.path == "/describe/"
    assert meta["SERVER_NAME"] == "10.0.0.1" and meta["SERVER_PORT"] == "8443"
    assert meta["REMOTE_ADDR"] == meta["REMOTE_HOST"] == "10.0.0.7"
    assert meta["REMOTE_PORT"] == 40404
    assert meta["SERVER_PROTOCOL"] == "HTTP/2"
    assert meta["CONTENT_TYPE"] == "application/json; charset=latin-1"
    assert meta["CONTENT_LENGTH"] == "0"
    assert meta["HTTP_HOST"] == "localhost:8443"
    assert meta["HTTP_X_MULTI"] == "one,two"
    assert request.GET.getlist("a") == ["1", "3"]
    assert request.encoding == "latin-1"
    assert request.content_type == "application/json"
    assert request.get_host() == "localhost:8443"


def test_defaults_for_optional_keys():
    request = AsgiRequest({"method": "GET", "path": "/x"})
    assert request.META["SERVER_NAME"] == "unknown"
    assert request.META["SERVER_PORT"] == "0"
    assert "REMOTE_ADDR" not in request.META
    assert request.META["QUERY_STRING"] == ""
    assert request.scheme == "http" and not request.is_secure()
    assert request.body == b""
    assert request.reply_channel is None


def test_scheme_drives_is_secure():
    assert AsgiRequest(request_content(scheme="https")).is_secure()
    assert not AsgiRequest(request_content(scheme="http")).is_secure()


def test_underscored_header_names_are_dropped():
    # "x_forwarded_for" must not be able to pose as X-Forwarded-For.
    request = AsgiRequest(request_content(headers=[
        [b"x_forwarded_for", b"6.6.6.6"], [b"x-forwarded-for", b"1.2.3.4"],
    ]))
    assert request.META["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"


def test_repeated_cookie_headers_are_joined_as_cookies():
    # HTTP/2 sends one cookie per header; a "," join would glue them into one value.
    request = AsgiRequest(request_content(headers=[[b"cookie", b"a=1"], [b"cookie", b"b=2"]]))
    assert request.COOKIES == {"a": "1", "b": "2"}


def test_old_style_dict_headers_are_accepted():
    request = AsgiRequest(request_content(headers={b"Host": b"old.example", "X-Thing": "v"}))
    assert request.META["HTTP_HOST"] == "old.example"
    assert request.META["HTTP_X_THING"] == "v"


def test_header_values_are_latin1():
    request = AsgiRequest(request_content(headers=[[b"x-name", "café".encode("latin-1")]]))
    assert request.META["HTTP_X_NAME"] == "café"


def test_raw_utf8_query_string_is_decoded():
    request = AsgiRequest(request_content(query_string="q=café".encode()))
    assert request.GET["q"] == "café"


def test_invalid_charset_is_ignored():
    request = AsgiRequest(request_content(headers=[[b"content-type", b"text/plain; charset=nope"]]))
    assert request.encoding is None


def test_response_later_is_reachable_from_the_request():
    assert AsgiRequest.ResponseLater is ResponseLater


# -- root_path / PATH_INFO ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/app/x/", "/app", ("/app", "/x/")),
        ("/app", "/app", ("/app", "/")),
        ("/app/", "/app/", ("/app", "/")),
        ("/app/x", "/app/", ("/app", "/x")),
        # Not a path prefix: 1.x turned this into "lication/x".
        ("/application/x", "/app", ("/app", "/application/x")),
        ("/x", "", ("", "/x")),
        ("/x", "/", ("", "/x")),
        ("", "", ("", "/")),
    ],
)
def test_split_path(path, root, expected):
    assert split_path(path, root) == expected


def test_root_path_sets_script_name(settings):
    request = AsgiRequest(request_content("/mount/hello/", root_path="/mount"))
    assert request.script_name == request.META["SCRIPT_NAME"] == "/mount"
    assert request.path_info == "/hello/"
    assert request.path == "/mount/hello/"


def test_force_script_name_wins(settings):
    settings.FORCE_SCRIPT_NAME = "/forced"
    request = AsgiRequest(request_content("/forced/hello/", root_path="/other"))
    assert (request.script_name, request.path_info) == ("/forced", "/hello/")


# -- round trips (hypothesis) ---------------------------------------------------------------

_header_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).filter(
    lambda name: name not in {"cookie", "content-type", "content-length"}
)
_header_values = st.binary(max_size=40).map(lambda value: value.replace(b",", b""))
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_header_names, _header_values), max_size=12))
def test_headers_round_trip_into_meta(pairs):
    request = AsgiRequest(request_content(headers=[[n.encode(), v] for n, v in pairs]))
    expected: dict[str, list[str]] = {}
    for name, value in pairs:
        expected.setdefault(name, []).append(value.decode("latin-1"))
    for name, values in expected.items():
        # Django's request.headers reads META back under the header's own name.
        assert request.headers[name] == ",".join(values)
        assert request.META["HTTP_" + name.upper().replace("-", "_")] == ",".join(values)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_text.filter(bool), _text), max_size=8))
def test_query_string_round_trips_into_get(pairs):
    query = urlencode(pairs)
    request = AsgiRequest(request_content(query_string=query.encode("ascii")))
    assert request.META["QUERY_STRING"] == query
    expected: dict[str, list[str]] = {}
    for key, value in pairs:
        expected.setdefault(key, []).append(value)
    assert {key: request.GET.getlist(key) for key in request.GET} == expected


_segment = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_segment, max_size=3).map(lambda parts: "".join("/" + part for part in parts)),
    st.lists(_segment, max_size=4).map(lambda parts: "".join("/" + part for part in parts)),
    st.booleans(),
)
def test_path_splits_back_into_root_and_path_info(root, rest, trailing_slash_on_root):
    path = root + rest
    root_path = root + "/" if trailing_slash_on_root and root else root
    request = AsgiRequest(request_content(path, root_path=root_path))
    assert request.path == path
    assert request.script_name == root
    assert request.path_info == (rest or "/")
    if rest:
        assert request.script_name + request.path_info == path


# -- malformed messages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"method": None}, "no 'method'"),
        ({"path": None}, "no 'path'"),
        ({"method": 5}, "'method' must be a string"),
        ({"method": "GE T"}, "not a request method"),
        ({"path": b"/\xff"}, "'path' is not valid UTF-8"),
        ({"query_string": b"q=\xff\xfe"}, "'query_string' is not valid UTF-8"),
        ({"query_string": 12}, "'query_string' must be a string"),
        ({"headers": "host: x"}, "'headers' must be a list"),
        ({"headers": [[b"host"]]}, "headers[0] must be a [name, value] pair"),
        ({"headers": [[b"host", 1]]}, "headers[0] value must be bytes"),
        ({"body": "text"}, "'body' must be bytes"),
        ({"body_channel": "not a channel!?"}, "'body_channel' is not a channel name"),
        ({"client": ["127.0.0.1"]}, "'client' must be [host, port]"),
        ({"server": ["127.0.0.1", "80"]}, "'server' must be [host, port]"),
        ({"reply_channel": 7}, "'reply_channel' must be a str"),
        ({"scheme": 1}, "'scheme' must be a string"),
    ],
)
def test_malformed_messages_are_rejected_with_a_reason(overrides, complaint):
    content = request_content(**overrides)
    for key in [key for key, value in overrides.items() if value is None]:
        del content[key]
    with pytest.raises(BadRequestMessage) as caught:
        parse_request_message(content)
    assert complaint in str(caught.value)


def test_non_dict_message_is_rejected():
    with pytest.raises(BadRequestMessage):
        parse_request_message(["not", "a", "dict"])


def test_constructor_does_not_touch_the_layer():
    class ExplodingLayer:
        def fetch(self, *args, **kwargs):
            raise AssertionError("the constructor must not read the body")

    class FakeMessage:
        content = request_content(body_channel="http.request.body?abc")
        channel_layer = ExplodingLayer()
        reply_channel = None

    request = AsgiRequest(FakeMessage())
    assert request.path == "/hello/"
