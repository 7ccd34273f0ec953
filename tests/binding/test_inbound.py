"""Inbound binding: client frames → create/update/delete, permissions, bad input (in-memory)."""

from __future__ import annotations

import json
import logging

from django.contrib.auth.models import User
from django.test import override_settings

from channels_classic.binding.base import InvalidBindingMessage
from channels_classic.exceptions import ConsumeLater
from channels_classic.routing import route, route_class
from channels_classic.test import ChannelTestCase, WSClient, apply_routes
from tests.bindingapp.bindings import (
    Demultiplexer,
    IntegerValueBinding,
    OrderedDemultiplexer,
    OrderedIntegerValueBinding,
)
from tests.bindingapp.models import IntegerValue, Note, Tag
from worker.dispatch import Outcome

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def stream_frame(stream: str, action: str, pk=None, data=None) -> dict:
    payload: dict = {"action": action}
    if pk is not None:
        payload["pk"] = pk
    if data is not None:
        payload["data"] = data
    return {"stream": stream, "payload": payload}


@apply_routes([route_class(Demultiplexer, path=r"^/binding/$")])
@override_settings(PASSWORD_HASHERS=PASSWORD_HASHERS)
class DemultiplexedBindingTests(ChannelTestCase):
    def connect(self, client: WSClient | None = None) -> WSClient:
        client = client or WSClient()
        client.send_and_consume("websocket.connect", path="/binding/")
        return client

    def send(self, client: WSClient, frame: dict):
        return client.send_and_consume("websocket.receive", text=frame, path="/binding/")

    def test_create_from_a_frame_is_broadcast_back(self):
        client = self.connect()  # joins intval-updates on connect
        self.send(client, stream_frame("intval", "create", data={"name": "n", "value": 3}))
        value = IntegerValue.objects.get(name="n")
        self.assertEqual(value.value, 3)
        self.assertEqual(client.receive(), {
            "stream": "intval",
            "payload": {"action": "create", "pk": value.pk, "data": {"name": "n", "value": 3},
                        "model": "bindingapp.integervalue"},
        })

    def test_update_sets_only_the_exposed_fields(self):
        value = IntegerValue.objects.create(name="u", value=1)
        client = self.connect()
        self.send(client, stream_frame("intval", "update", pk=value.pk,
                                       data={"value": 9, "id": 999, "unknown": 1}))
        value.refresh_from_db()
        self.assertEqual((value.pk, value.name, value.value), (value.pk, "u", 9))
        self.assertEqual(client.receive()["payload"]["action"], "update")

    def test_excluded_fields_are_never_set_from_client_data(self):
        owner = User.objects.create_user("ada", password="pw")
        note = Note.objects.create(title="t", owner=owner, secret="kept")
        client = WSClient()
        client.force_login(owner)
        self.connect(client)
        self.send(client, stream_frame("notes", "update", pk=note.pk,
                                       data={"title": "new", "secret": "overwritten"}))
        note.refresh_from_db()
        self.assertEqual((note.title, note.secret), ("new", "kept"))

    def test_create_with_foreign_key_many_to_many_and_automatic_fields(self):
        owner = User.objects.create_user("bob", password="pw")
        tags = [Tag.objects.create(name="a"), Tag.objects.create(name="b")]
        client = WSClient()
        client.force_login(owner)
        self.connect(client)
        client.join_group("notes-bob")
        self.send(client, stream_frame("notes", "create", data={
            "title": "hi", "owner": owner.pk, "tags": [tag.pk for tag in tags],
            "secret": "ignored",
        }))
        note = Note.objects.get(title="hi")
        self.assertEqual(note.owner, owner)
        self.assertEqual(sorted(note.tags.values_list("name", flat=True)), ["a", "b"])
        self.assertIsNotNone(note.created)  # a normal save: auto_now_add applied
        self.assertEqual(note.secret, "")
        frame = client.receive()
        self.assertEqual((frame["stream"], frame["payload"]["action"]), ("notes", "create"))

    def test_permission_decides_with_the_socket_user(self):
        value = IntegerValue.objects.create(name="d", value=1)
        anonymous = self.connect()
        self.send(anonymous, stream_frame("intval", "delete", pk=value.pk))
        self.assertTrue(IntegerValue.objects.filter(pk=value.pk).exists())  # refused

        user = User.objects.create_user("carol", password="pw")
        member = WSClient()
        self.assertTrue(member.login(username="carol", password="pw"))
        self.connect(member)
        self.send(member, stream_frame("intval", "delete", pk=value.pk))
        self.assertFalse(IntegerValue.objects.filter(pk=value.pk).exists())
        self.assertEqual(member.receive()["payload"]["action"], "delete")
        self.assertTrue(user.is_authenticated)

    def test_bad_input_raises_value_error_is_logged_and_the_socket_stays_open(self):
        value = IntegerValue.objects.create(name="b", value=1)
        client = WSClient(raise_consumer_exceptions=False)
        client.force_login(User.objects.create_user("dave", password="pw"))  # may delete
        self.connect(client)
        bad_frames = [
            (stream_frame("intval", "explode", pk=value.pk), "bad action 'explode'"),
            (stream_frame("intval", "create"), "needs data"),
            (stream_frame("intval", "update", data={"value": 2}), "needs the pk"),
            (stream_frame("intval", "update", pk=12345, data={"value": 2}), "no bindingapp"),
            (stream_frame("intval", "update", pk="abc", data={"value": 2}), "invalid pk"),
            (stream_frame("intval", "delete", pk="abc"), "invalid pk"),
            (stream_frame("intval", "create", data={"name": "x", "value": "many"}),
             "invalid data"),
            ({"stream": "intval", "payload": {"pk": 1}}, "no action"),
        ]
        for frame, reason in bad_frames:
            with self.subTest(frame=frame), self.assertLogs("channels_classic.worker",
                                                            logging.ERROR) as logs:
                result = self.send(client, frame)
                self.assertIs(result.outcome, Outcome.FAILED)
                self.assertIsInstance(result.error, InvalidBindingMessage)
                self.assertIsInstance(result.error, ValueError)
                self.assertIn(reason, str(result.error))
                self.assertIn("failed on a message from websocket.receive", logs.output[0])
        self.assertIsNone(client.receive())  # no close, no reply: the socket stays open
        self.send(client, stream_frame("intval", "update", pk=value.pk, data={"value": 5}))
        value.refresh_from_db()
        self.assertEqual(value.value, 5)

    def test_bad_action_raises_in_tests_by_default(self):
        client = self.connect()
        with self.assertRaises(ValueError):
            self.send(client, stream_frame("intval", "explode", pk=1))

    def test_connect_and_disconnect_reach_bindings_harmlessly(self):
        client = self.connect()
        result = client.send_and_consume("websocket.disconnect", {"code": 1000},
                                         path="/binding/")
        self.assertIs(result.outcome, Outcome.CONSUMED)


@override_settings(PASSWORD_HASHERS=PASSWORD_HASHERS)
class DirectlyRoutedBindingTests(ChannelTestCase):
    def test_frame_text_is_action_pk_data(self):
        with apply_routes([route("websocket.receive", IntegerValueBinding.consumer)]):
            client = WSClient()
            client.send_and_consume("websocket.connect")
            client.send_and_consume("websocket.receive",
                                    text={"action": "create", "data": {"name": "direct"}})
        self.assertTrue(IntegerValue.objects.filter(name="direct", value=0).exists())

    def test_a_frame_that_is_not_json_is_an_invalid_binding_message(self):
        with apply_routes([route("websocket.receive", IntegerValueBinding.consumer)]):
            client = WSClient(raise_consumer_exceptions=False)
            client.send_and_consume("websocket.connect")
            result = client.send_and_consume("websocket.receive", text="not json")
        self.assertIsInstance(result.error, InvalidBindingMessage)
        self.assertIn("not JSON", str(result.error))

    def test_strict_ordering_runs_frames_in_socket_order(self):
        with apply_routes([route("websocket.receive", OrderedIntegerValueBinding.consumer)]):
            client = WSClient()
            client.send_and_consume("websocket.connect", {"order": 0})
            # Frame 2 arrives first: it waits for frame 1.
            client.send_and_consume("websocket.receive", {"order": 2},
                                    text={"action": "create", "data": {"name": "second"}})
            self.assertFalse(IntegerValue.objects.exists())
            client.send_and_consume("websocket.receive", {"order": 1},
                                    text={"action": "create", "data": {"name": "first"}})
            client.consume("websocket.receive")  # frame 2, released by frame 1
        self.assertEqual(list(IntegerValue.objects.order_by("pk").values_list("name", flat=True)),
                         ["first", "second"])

    def test_ordering_behind_a_demultiplexer_belongs_to_the_demultiplexer(self):
        with apply_routes([route_class(OrderedDemultiplexer)]), \
                self.assertLogs("channels_classic.binding", logging.WARNING) as logs:
            client = WSClient()
            client.send_and_consume("websocket.connect", {"order": 0})
            client.send_and_consume("websocket.receive", {"order": 2},
                                    text=stream_frame("intval", "create", data={"name": "b"}))
            client.send_and_consume("websocket.receive", {"order": 1},
                                    text=stream_frame("intval", "create", data={"name": "a"}))
            client.consume("websocket.receive")
        self.assertEqual(list(IntegerValue.objects.order_by("pk").values_list("name", flat=True)),
                         ["a", "b"])
        self.assertEqual(len([line for line in logs.output if "strict_ordering" in line]), 1)


class RetriedBinding(IntegerValueBinding):
    """Asks to run again once; records what it was given each time."""

    seen: list = []

    @classmethod
    def group_names(cls, instance):
        return []

    def has_permission(self, user, action, pk):
        type(self).seen.append((self.message.attempts, dict(self.message.content), self.data))
        if len(type(self).seen) == 1:
            raise ConsumeLater
        return True


class RetryTests(ChannelTestCase):
    def test_consume_later_keeps_retry_metadata_out_of_the_message(self):
        RetriedBinding.seen = []
        with apply_routes([route("websocket.receive", RetriedBinding.consumer)]):
            client = WSClient()
            client.send_and_consume("websocket.connect")
            first = client.send_and_consume(
                "websocket.receive", text={"action": "create", "data": {"name": "r"}})
            self.assertIs(first.outcome, Outcome.REQUEUED)
            client.consume("websocket.receive")
        (attempt1, content1, data1), (attempt2, content2, data2) = RetriedBinding.seen
        self.assertEqual((attempt1, attempt2), (0, 1))
        self.assertEqual(content1, content2)  # no __retries__ key added
        self.assertEqual(data1, data2)
        self.assertEqual(data2, {"name": "r"})
        self.assertNotIn("__retries__", json.dumps(content2))
        self.assertTrue(IntegerValue.objects.filter(name="r").exists())
