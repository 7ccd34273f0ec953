"""channels_classic.binding: the pure parts (group difference, inbound frame parsing)."""

from __future__ import annotations

import json

import pytest

from channels_classic.binding.base import InvalidBindingMessage, plan_outbound
from channels_classic.binding.websockets import parse_inbound_frame


@pytest.mark.parametrize(
    ("old", "new", "plan"),
    [
        (set(), {"a"}, [("create", ["a"])]),
        ({"a"}, set(), [("delete", ["a"])]),
        ({"a"}, {"a"}, [("update", ["a"])]),
        (set(), set(), []),
        # DDP order: delete to groups that lost it, update to those that kept it, create to
        # those that gained it; group names sorted for a stable send order.
        ({"b", "a", "kept2", "kept1"}, {"kept2", "kept1", "new2", "new1"},
         [("delete", ["a", "b"]), ("update", ["kept1", "kept2"]),
          ("create", ["new1", "new2"])]),
    ],
)
def test_plan_outbound(old, new, plan):
    assert plan_outbound(old, new) == plan


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('{"action": "create", "data": {"name": "x"}}', ("create", None, {"name": "x"})),
        ('{"action": "update", "pk": 3, "data": {}}', ("update", 3, {})),
        ('{"action": "delete", "pk": "c0ffee"}', ("delete", "c0ffee", None)),
        # Unknown actions parse; run_action refuses them (with the binding's name).
        ('{"action": "explode"}', ("explode", None, None)),
    ],
)
def test_parse_inbound_frame(text, parsed):
    assert parse_inbound_frame(text) == parsed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "JSON text frames"),
        (b'{"action": "create"}', "JSON text frames"),
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"pk": 1}', "no action"),
        ('{"action": 5}', "no action"),
        ('{"action": "update", "pk": [1]}', "pk must be"),
        ('{"action": "update", "pk": true}', "pk must be"),
        ('{"action": "create", "data": [1]}', "data must be"),
        ('{"action": "create", "data": "x"}', "data must be"),
    ],
)
def test_parse_inbound_frame_rejects(text, reason):
    with pytest.raises(InvalidBindingMessage, match=reason) as raised:
        parse_inbound_frame(text)
    assert isinstance(raised.value, ValueError)  # what 1.x raised


def test_parse_inbound_frame_keeps_data_as_sent():
    data = {"name": "x", "value": 1, "nested": {"a": [1, 2]}}
    assert parse_inbound_frame(json.dumps({"action": "create", "data": data}))[2] == data
