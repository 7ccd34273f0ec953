"""Outbound binding: model changes → group messages, sent at commit (in-memory layer)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models.signals import post_save, pre_save

from channels_classic.binding.base import Binding, BindingMetaclass
from channels_classic.binding.websockets import WebsocketBinding
from channels_classic.test import ChannelTestCase, Client, TransactionChannelTestCase
from tests.bindingapp.bindings import IntegerValueBinding, NoteBinding
from tests.bindingapp.models import IntegerValue, Note, Tag


def listener(*groups: str) -> Client:
    """A client connection that is a member of ``groups``."""
    client = Client()
    for group in groups:
        client.join_group(group)
    return client


def frames(client: Client) -> list[dict]:
    """Every frame sent to the client so far, decoded."""
    received = []
    while (content := client.receive()) is not None:
        received.append(json.loads(content["text"]))
    return received


def intval(action: str, instance: IntegerValue) -> dict:
    return {
        "stream": "intval",
        "payload": {
            "action": action,
            "pk": instance.pk,
            "data": {"name": instance.name, "value": instance.value},
            "model": "bindingapp.integervalue",
        },
    }


class OutboundTests(ChannelTestCase):
    def test_create_update_delete_reach_the_group(self):
        client = listener("intval-updates")
        value = IntegerValue.objects.create(name="a", value=-1)
        self.assertEqual(frames(client), [intval("create", value)])
        value.value = -2
        value.save()
        self.assertEqual(frames(client), [intval("update", value)])
        deleted = intval("delete", value)
        value.delete()
        self.assertEqual(frames(client), [deleted])

    def test_model_given_as_a_string_is_resolved_and_labelled(self):
        self.assertIs(IntegerValueBinding.model, IntegerValue)
        self.assertEqual(IntegerValueBinding.model_label, "bindingapp.integervalue")

    def test_group_difference_becomes_delete_update_create(self):
        everyone = listener("intval-updates")
        positive = listener("intval-positive")
        big = listener("intval-big")
        value = IntegerValue.objects.create(name="moving", value=-1)
        self.assertEqual(
            [frames(everyone), frames(positive), frames(big)],
            [[intval("create", value)], [], []],
        )
        value.value = 5  # gains "positive"
        value.save()
        self.assertEqual(
            [frames(everyone), frames(positive), frames(big)],
            [[intval("update", value)], [intval("create", value)], []],
        )
        value.value = 200  # gains "big"
        value.save()
        self.assertEqual(
            [frames(everyone), frames(positive), frames(big)],
            [[intval("update", value)], [intval("update", value)], [intval("create", value)]],
        )
        value.value = -3  # loses "positive" and "big"
        value.save()
        self.assertEqual(
            [frames(everyone), frames(positive), frames(big)],
            [[intval("update", value)], [intval("delete", value)], [intval("delete", value)]],
        )

    def test_one_socket_in_several_groups_hears_delete_before_update_before_create(self):
        both = listener("intval-big", "intval-updates", "intval-positive")
        value = IntegerValue.objects.create(name="x", value=500)
        frames(both)
        value.value = 50  # leaves "big", stays in "updates" and "positive"
        value.save()
        actions = [frame["payload"]["action"] for frame in frames(both)]
        self.assertEqual(actions, ["delete", "update", "update"])

    def test_no_message_when_no_group_sees_the_instance(self):
        client = listener("notes-nobody")
        Note.objects.create(title="orphan")  # group_names() is empty without an owner
        self.assertEqual(frames(client), [])

    def test_payload_fields_members_foreign_keys_and_many_to_many(self):
        owner = User.objects.create(username="ada")
        client = listener("notes-ada")
        tag = Tag.objects.create(name="t1")
        note = Note.objects.create(title="hello", body="0123456789abc", owner=owner,
                                   secret="never sent")
        [created] = frames(client)
        note.tags.add(tag)
        note.save()
        [updated] = frames(client)
        self.assertEqual(created["stream"], "notes")
        payload = updated["payload"]
        self.assertEqual(
            {key: payload[key] for key in ("action", "pk", "model")},
            {"action": "update", "pk": note.pk, "model": "bindingapp.note"},
        )
        data = payload["data"]
        self.assertNotIn("secret", data)  # exclude
        self.assertEqual(data["title"], "hello")
        self.assertEqual(data["owner"], owner.pk)
        self.assertEqual(data["tags"], [tag.pk])
        # auto_now_add was applied; DjangoJSONEncoder keeps milliseconds.
        sent = datetime.datetime.fromisoformat(data["created"].replace("Z", "+00:00"))
        self.assertLess(abs(sent - note.created), datetime.timedelta(milliseconds=1))
        # send_members: dotted path, property, method.
        self.assertEqual(data["owner__username"], "ada")
        self.assertEqual(data["summary"], "hello: 0123456789")
        self.assertEqual(data["title_length"], 5)

    def test_in_a_test_case_atomic_blocks_do_not_hold_messages_back(self):
        # TestCase never commits; holding messages for a commit would lose them all (Django
        # wraps every delete in an atomic block).  Commit behaviour: TransactionTests.
        client = listener("intval-updates")
        with transaction.atomic():
            IntegerValue.objects.create(name="in-block", value=1)
            [frame] = frames(client)
        self.assertEqual(frame["payload"]["data"]["name"], "in-block")


class TransactionTests(TransactionChannelTestCase):
    def test_sent_when_the_transaction_commits(self):
        client = listener("intval-updates")
        with transaction.atomic():
            first = IntegerValue.objects.create(name="one", value=1)
            first.value = 2
            first.save()
            self.assertEqual(frames(client), [])
        # Both changes, in order, each as it was at its save.
        self.assertEqual(
            [(frame["payload"]["action"], frame["payload"]["data"]["value"])
             for frame in frames(client)],
            [("create", 1), ("update", 2)],
        )

    def test_nothing_is_sent_when_the_transaction_rolls_back(self):
        client = listener("intval-updates")

        class Abort(Exception):
            pass

        with self.assertRaises(Abort), transaction.atomic():
            IntegerValue.objects.create(name="ghost", value=1)
            raise Abort
        self.assertFalse(IntegerValue.objects.filter(name="ghost").exists())
        self.assertEqual(frames(client), [])

    def test_a_rolled_back_savepoint_sends_nothing_of_its_own(self):
        client = listener("intval-updates")
        with transaction.atomic():
            IntegerValue.objects.create(name="kept", value=1)
            try:
                with transaction.atomic():
                    IntegerValue.objects.create(name="undone", value=1)
                    raise RuntimeError("roll back the savepoint")
            except RuntimeError:
                pass
        self.assertEqual([frame["payload"]["data"]["name"] for frame in frames(client)],
                         ["kept"])

    def test_autocommit_sends_at_once(self):
        client = listener("intval-updates")
        IntegerValue.objects.create(name="auto", value=1)
        self.assertEqual(len(frames(client)), 1)

    def test_a_delete_is_described_as_the_row_was(self):
        client = listener("intval-updates")
        value = IntegerValue.objects.create(name="gone", value=7)
        pk = value.pk
        frames(client)
        with transaction.atomic():
            value.delete()
        [frame] = frames(client)
        # Django clears the instance's pk after the delete; the message kept it.
        self.assertEqual(frame["payload"], {"action": "delete", "pk": pk,
                                            "data": {"name": "gone", "value": 7},
                                            "model": "bindingapp.integervalue"})


class SignalKwargsAndEmptyPayloadTests(ChannelTestCase):
    def setUp(self):
        seen = self.seen = []

        class TagBinding(WebsocketBinding):
            model = Tag
            stream = "tags"
            fields = ["__all__"]

            @classmethod
            def group_names(cls, instance):
                return ["tags"]

            def serialize(self, instance, action):
                seen.append((action, self.signal_kwargs.get("update_fields")))
                if instance.name == "quiet":
                    return {}  # nothing worth sending
                return super().serialize(instance, action)

        self.binding = TagBinding
        self.addCleanup(TagBinding.unregister)

    def test_empty_payload_is_not_sent(self):
        client = listener("tags")
        Tag.objects.create(name="quiet")
        loud = Tag.objects.create(name="loud")
        [frame] = frames(client)
        self.assertEqual(frame["payload"]["data"], {"name": "loud"})
        self.assertEqual(frame["payload"]["pk"], loud.pk)

    def test_serialize_sees_the_signal_kwargs(self):
        tag = Tag.objects.create(name="t")
        tag.name = "u"
        tag.save(update_fields=["name"])
        self.assertEqual(self.seen, [("create", None), ("update", frozenset({"name"}))])

    def test_unregister_disconnects(self):
        self.binding.unregister()
        client = listener("tags")
        Tag.objects.create(name="loud")
        self.assertEqual(frames(client), [])
        self.assertNotIn(self.binding, BindingMetaclass.binding_classes)


class GroupNamesTests(ChannelTestCase):
    def test_group_names_returning_a_string_is_an_error(self):
        class Sloppy(WebsocketBinding):
            model = Tag
            stream = "tags"
            fields = ["name"]

            @classmethod
            def group_names(cls, instance):
                return "tags"  # a str, not a list: 1.x sent to groups "t", "a", "g", "s"

        self.addCleanup(Sloppy.unregister)
        with pytest.raises(TypeError, match="list of group names"):
            Tag.objects.create(name="x")


# -- registration ----------------------------------------------------------------------------


@pytest.fixture
def not_ready(monkeypatch):
    """As before ``channels_classic``'s app is ready: classes are only remembered."""
    monkeypatch.setattr(BindingMetaclass, "register_immediately", False)
    made: list[type] = []
    yield made
    for binding in made:
        binding.unregister()


def has_receiver(signal, binding) -> bool:
    return any(key[0] == binding._dispatch_uid("pre_save") for key, *_ in signal.receivers)


def test_bindings_register_when_the_app_is_ready(not_ready):
    class Early(WebsocketBinding):
        model = "bindingapp.Tag"
        stream = "early"
        fields = ["name"]

    not_ready.append(Early)
    assert Early in BindingMetaclass.binding_classes
    assert not has_receiver(pre_save, Early)
    BindingMetaclass.register_all()
    assert has_receiver(pre_save, Early)
    assert Early.model is Tag and Early.model_label == "bindingapp.tag"
    BindingMetaclass.register_all()  # again: still one receiver per signal
    assert sum(key[0].startswith(Early._dispatch_uid("")) for key, *_ in post_save.receivers) == 1


def test_binding_defined_after_ready_registers_at_once():
    class Late(WebsocketBinding):
        model = Tag
        stream = "late"
        fields = ["name"]

    try:
        assert has_receiver(pre_save, Late)
    finally:
        Late.unregister()
    assert not has_receiver(pre_save, Late)


def test_abstract_bindings_connect_nothing():
    class Abstract(WebsocketBinding):
        model = None

    try:
        assert Abstract.get_registered_models() == []
        assert Binding not in BindingMetaclass.binding_classes
    finally:
        Abstract.unregister()


@pytest.mark.parametrize(
    ("attrs", "error"),
    [
        ({"fields": ["name"]}, "must set the model"),
        ({"model": Tag}, "must set fields"),
        ({"model": "bindingapp.Nope", "fields": ["name"]}, "not found"),
    ],
)
def test_misconfigured_bindings_are_refused(not_ready, attrs, error):
    broken = type("Broken", (WebsocketBinding,), {"stream": "s", **attrs})
    not_ready.append(broken)
    with pytest.raises(ImproperlyConfigured, match=error):
        broken.register()


def test_note_binding_is_registered_by_its_app():
    assert NoteBinding in BindingMetaclass.binding_classes
    assert has_receiver(pre_save, NoteBinding)
