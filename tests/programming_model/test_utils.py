"""channels_classic.utils: message helpers."""

from __future__ import annotations

import pytest

from channels_classic.message import Message
from channels_classic.utils import (
    find_message,
    header_values,
    message_cookies,
    name_that_thing,
    normalize_headers,
    query_params,
)


def test_name_that_thing():
    class Thing:
        def method(self):
            pass  # pragma: no cover

        @classmethod
        def klass(cls):
            pass  # pragma: no cover

    assert name_that_thing(Thing().method).endswith("Thing.method")
    assert name_that_thing(Thing.klass).endswith("Thing.klass")
    assert name_that_thing(test_name_that_thing).endswith("utils.test_name_that_thing")
    assert name_that_thing(Thing()).endswith("Thing")


def test_find_message():
    message = Message({}, "x", None)
    assert find_message((message,), "d") is message
    assert find_message((object(), message), "d") is message
    with pytest.raises(TypeError, match="@d needs the Message"):
        find_message((1, 2, message), "d")
    with pytest.raises(TypeError, match="no arguments"):
        find_message((), "d")


def test_normalize_headers():
    assert normalize_headers({"Cookie": "a=1"}) == [[b"cookie", b"a=1"]]
    assert normalize_headers([("X-A", b"1"), [b"x-b", "2"]]) == [[b"x-a", b"1"], [b"x-b", b"2"]]
    assert normalize_headers(None) == []
    with pytest.raises(TypeError, match="pair"):
        normalize_headers([b"cookie"])
    with pytest.raises(TypeError, match="bytes or str"):
        normalize_headers([[b"x", 1]])


def test_header_values_skip_junk():
    content = {"headers": [[b"Origin", b"a"], "junk", [1, 2], [b"origin", b"b"], [b"x", b"c"]]}
    assert header_values(content, b"origin") == [b"a", b"b"]
    assert header_values({"headers": "not a list"}, b"origin") == []
    assert header_values({}, b"origin") == []


def test_cookies_and_query():
    content = {"headers": [[b"cookie", b"a=1; b=two"], [b"cookie", b"c=3"]],
               "query_string": b"x=1&x=2&empty=&q=%C3%A9"}
    assert message_cookies(content) == {"a": "1", "b": "two", "c": "3"}
    assert query_params(content) == {"x": ["1", "2"], "empty": [""], "q": ["é"]}
    assert query_params({"query_string": "a=b"}) == {"a": ["b"]}
    assert query_params({"query_string": 5}) == {}
