"""The bindings and the demultiplexer the binding tests route, written as a 1.x project would."""

from channels_classic.binding.websockets import WebsocketBinding, WebsocketBindingWithMembers
from channels_classic.generic.websockets import WebsocketDemultiplexer

from .models import Note


class IntegerValueBinding(WebsocketBinding):
    """Every value is in ``intval-updates``; positive ones also in ``intval-positive`` and
    values above 100 in ``intval-big``, so changing a value moves it between groups."""

    model = "bindingapp.IntegerValue"
    stream = "intval"
    fields = ["name", "value"]

    @classmethod
    def group_names(cls, instance):
        names = ["intval-updates"]
        if instance.value > 0:
            names.append("intval-positive")
        if instance.value > 100:
            names.append("intval-big")
        return names

    def has_permission(self, user, action, pk):
        # Anyone may create and update; deleting needs a signed-in user.
        return action != "delete" or user.is_authenticated


class NoteBinding(WebsocketBindingWithMembers):
    """Notes go to their owner's group, without ``secret``, with a few members."""

    model = Note
    stream = "notes"
    exclude = ["secret"]
    send_members = ["owner.username", "summary", "title_length"]

    @classmethod
    def group_names(cls, instance):
        return [f"notes-{instance.owner.username}"] if instance.owner_id else []

    def has_permission(self, user, action, pk):
        return user.is_authenticated


class OrderedIntegerValueBinding(IntegerValueBinding):
    """Inbound only (no groups), with strict ordering, for routing directly."""

    strict_ordering = True

    @classmethod
    def group_names(cls, instance):
        return []


class Demultiplexer(WebsocketDemultiplexer):
    """The 1.x documentation's demultiplexer: streams to bindings, sockets in the group."""

    http_user = True
    consumers = {
        "intval": IntegerValueBinding.consumer,
        "notes": NoteBinding.consumer,
    }

    def connection_groups(self, **kwargs):
        return ["intval-updates"]


class OrderedDemultiplexer(Demultiplexer):
    """Ordering on the demultiplexer, with a binding that asks for it too."""

    strict_ordering = True
    consumers = {"intval": OrderedIntegerValueBinding.consumer}
