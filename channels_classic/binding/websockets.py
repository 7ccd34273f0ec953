"""``WebsocketBinding``: model changes as JSON frames on a multiplexed WebSocket stream.

Outbound, every change reaches the sockets in the binding's groups as a
:class:`~channels_classic.generic.websockets.WebsocketMultiplexer` frame::

    {"stream": "<stream>", "payload": {"action": "create" | "update" | "delete",
                                       "pk": <primary key>,
                                       "data": {<field>: <value>, ...},
                                       "model": "<app_label>.<modelname>"}}

Inbound, a ``websocket.receive`` whose text is ``{"action": ..., "pk": ..., "data": {...}}``
(what a :class:`~channels_classic.generic.websockets.WebsocketDemultiplexer` hands its stream
consumers) creates, updates or deletes an instance, if :meth:`Binding.has_permission` allows.
Only the fields the binding exposes (``fields`` / ``exclude``) are ever set from client data;
other keys are ignored.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.core import serializers
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.serializers.base import DeserializationError, DeserializedObject
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Field, Model

from ..generic.websockets import WebsocketMultiplexer
from ..message import Message
from ..sessions import enforce_ordering
from .base import CREATE, Binding, InvalidBindingMessage

__all__ = ["WebsocketBinding", "WebsocketBindingWithMembers", "parse_inbound_frame"]

logger = logging.getLogger("channels_classic.binding")

_ALL = "__all__"


def parse_inbound_frame(text: Any) -> tuple[str, Any, Any]:
    """``(action, pk, data)`` from the text of an inbound binding frame.

    Raises:
        InvalidBindingMessage: not a JSON object with a string ``action``, a scalar ``pk``
            and an object (or no) ``data``.
    """
    if not isinstance(text, str):
        raise InvalidBindingMessage("binding frames must be JSON text frames")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise InvalidBindingMessage(f"binding frame is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InvalidBindingMessage(
            'binding frame must be a JSON object {"action": ..., "pk": ..., "data": {...}}'
        )
    action = body.get("action")
    if not isinstance(action, str):
        raise InvalidBindingMessage(f"binding frame has no action (got {action!r})")
    pk = body.get("pk")
    if isinstance(pk, bool) or not isinstance(pk, (str, int, type(None))):
        raise InvalidBindingMessage(f"binding frame pk must be a string or a number, not {pk!r}")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise InvalidBindingMessage("binding frame data must be a JSON object")
    return action, pk, data


class WebsocketBinding(Binding):
    """A :class:`~channels_classic.binding.base.Binding` speaking JSON over WebSockets.

    Implement :meth:`group_names` and :meth:`has_permission`; set ``model``, ``stream`` and
    ``fields`` (or ``exclude``).  Route :meth:`consumer` behind a ``WebsocketDemultiplexer``
    under ``stream``, or directly on ``websocket.receive``.

    Attributes:
        strict_ordering: handle a socket's frames strictly in order (``@enforce_ordering``)
            when the binding is routed directly.  Behind a demultiplexer, set it on the
            demultiplexer instead: frames wait for their turn as the demultiplexer received
            them.
        slight_ordering: the same with ``enforce_ordering(slight=True)``.
    """

    model = None  # abstract
    stream: ClassVar[str | None] = None
    strict_ordering: ClassVar[bool] = False
    slight_ordering: ClassVar[bool] = False

    _warned_ordering: ClassVar[set[type]] = set()
    _warn_lock: ClassVar[threading.Lock] = threading.Lock()

    # -- outbound ----------------------------------------------------------------------------

    @classmethod
    def encode(cls, stream: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A multiplexed text frame carrying ``payload`` on ``stream``."""
        return WebsocketMultiplexer.encode(stream, payload)

    def serialize(self, instance: Model, action: str) -> dict[str, Any]:
        """``{"action", "pk", "data", "model"}`` for ``action`` on ``instance``."""
        return {
            "action": action,
            "pk": instance.pk,
            "data": self.serialize_data(instance),
            "model": self.model_label,
        }

    def serialize_data(self, instance: Model) -> dict[str, Any]:
        """The exposed fields of ``instance`` as JSON-safe values (Django's JSON serializer:
        dates as ISO strings, foreign keys as primary keys, many-to-many as lists of them)."""
        data = serializers.serialize("json", [instance], fields=self._serialized_names())
        fields: dict[str, Any] = json.loads(data)[0]["fields"]
        return fields

    @classmethod
    def _all_fields(cls) -> bool:
        fields = cls.fields
        return fields == _ALL or (fields is not None and list(fields) == [_ALL])

    @classmethod
    def _serialized_names(cls) -> list[str] | None:
        if cls._all_fields():
            return None
        if cls.fields is not None:
            return list(cls.fields)
        exclude = set(cls.exclude or ())
        return [field.name for field in cls.model_class()._meta.get_fields()
                if field.name not in exclude]

    # -- inbound -----------------------------------------------------------------------------

    @classmethod
    def get_handler(cls) -> Callable[..., Any]:
        """The session-decorated handler, in ``enforce_ordering`` when the class asks."""
        handler = super().get_handler()
        if cls.strict_ordering:
            return enforce_ordering(handler, slight=False)  # type: ignore[no-any-return,unused-ignore]
        if cls.slight_ordering:
            return enforce_ordering(handler, slight=True)  # type: ignore[no-any-return,unused-ignore]
        return handler

    @classmethod
    def consumer(cls, message: Message, **kwargs: Any) -> None:
        """The consumer to route, or to list in a demultiplexer's ``consumers``."""
        if (cls.strict_ordering or cls.slight_ordering) and kwargs.get("multiplexer"):
            # A frame parked by enforce_ordering is put back on websocket.receive as this
            # consumer sees it: without its stream envelope, so the demultiplexer could not
            # route it again and it would be lost.  Ordering belongs on the demultiplexer.
            cls._warn_ordering_behind_demultiplexer()
            Binding.get_handler.__func__(cls)(message, **kwargs)  # type: ignore[attr-defined]
            return
        cls.get_handler()(message, **kwargs)

    @classmethod
    def _warn_ordering_behind_demultiplexer(cls) -> None:
        with cls._warn_lock:
            if cls in cls._warned_ordering:
                return
            cls._warned_ordering.add(cls)
        logger.warning(
            "%s sets strict_ordering/slight_ordering but runs behind a WebsocketDemultiplexer; "
            "its frames are not ordered here. Set the ordering flag on the demultiplexer.",
            cls.__qualname__,
        )

    @classmethod
    def trigger_inbound(cls, message: Message, **kwargs: Any) -> None:
        """Act on ``websocket.receive`` frames; connect and disconnect are ignored."""
        if message.channel.name != "websocket.receive":
            return
        super().trigger_inbound(message, **kwargs)

    def deserialize(self, message: Message) -> tuple[str, Any, Any]:
        """``(action, pk, data)`` from the frame text (see :func:`parse_inbound_frame`)."""
        return parse_inbound_frame(message.content.get("text"))

    def settable_fields(self) -> dict[str, Field[Any, Any]]:
        """The fields client data may set: the exposed, editable ones, without the primary
        key, by name."""
        meta = self.model_class()._meta
        candidates = [*meta.concrete_fields, *meta.many_to_many]
        allowed: dict[str, Field[Any, Any]] = {}
        for field in candidates:
            if field.primary_key or not field.editable:
                continue
            if self._all_fields():
                pass
            elif self.fields is not None:
                if field.name not in self.fields:
                    continue
            elif field.name in (self.exclude or ()):
                continue
            allowed[field.name] = field
        return allowed

    def _accepted(self, data: Any, action: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidBindingMessage(
                f"Binding {type(self).__qualname__}: {action} needs data as a JSON object"
            )
        allowed = self.settable_fields()
        ignored = sorted(set(data) - set(allowed))
        if ignored:
            logger.debug(
                "Binding %s: %s ignores fields it does not expose: %s",
                type(self).__qualname__, action, ", ".join(map(str, ignored)),
            )
        return {name: value for name, value in data.items() if name in allowed}

    def _hydrate(self, pk: Any, data: dict[str, Any]) -> DeserializedObject:
        """An unsaved instance (plus many-to-many data) built from client ``data``.

        Raises:
            InvalidBindingMessage: a value does not fit its field.
        """
        description = [{"model": self.model_label, "pk": pk, "fields": data}]
        try:
            return next(iter(serializers.deserialize("python", description)))
        except (DeserializationError, ValidationError, ObjectDoesNotExist, ValueError,
                TypeError) as exc:
            raise InvalidBindingMessage(
                f"Binding {type(self).__qualname__}: invalid data for {self.model_label} "
                f"({exc})"
            ) from exc

    def create(self, data: Any) -> None:
        """Create an instance from the exposed fields in ``data``.

        Raises:
            InvalidBindingMessage: ``data`` is not an object or a value does not fit.
        """
        hydrated = self._hydrate(None, self._accepted(data, CREATE))
        instance = hydrated.object
        # A normal save, not the serializer's raw one: field defaults such as auto_now_add
        # apply, and receivers see an ordinary create.
        instance.save()
        for name, values in (hydrated.m2m_data or {}).items():
            getattr(instance, name).set(values)

    def update(self, pk: Any, data: Any) -> None:
        """Set the exposed fields in ``data`` on instance ``pk`` and save it.

        Raises:
            InvalidBindingMessage: no such instance, an invalid pk, ``data`` is not an object
                or a value does not fit.
        """
        model = self.model_class()
        accepted = self._accepted(data, "update")
        try:
            instance = model._default_manager.get(pk=pk)
        except model.DoesNotExist:
            raise InvalidBindingMessage(
                f"Binding {type(self).__qualname__}: no {self.model_label} with pk={pk!r}"
            ) from None
        except (TypeError, ValueError, ValidationError) as exc:
            raise InvalidBindingMessage(
                f"Binding {type(self).__qualname__}: invalid pk {pk!r} ({exc})"
            ) from exc
        hydrated = self._hydrate(instance.pk, accepted)
        fields = self.settable_fields()
        for name in accepted:
            field = fields[name]
            if not field.many_to_many:
                setattr(instance, field.attname, getattr(hydrated.object, field.attname))
        instance.save()
        for name, values in (hydrated.m2m_data or {}).items():
            getattr(instance, name).set(values)


class WebsocketBindingWithMembers(WebsocketBinding):
    """A :class:`WebsocketBinding` that also sends attributes, properties and methods.

    ``send_members`` lists dotted paths from the instance (``"owner.username"``); a callable
    at the end of a path is called without arguments.  Each value goes into ``data`` under
    the path with ``.`` replaced by ``__``, made JSON-safe with ``DjangoJSONEncoder``.
    """

    model = None  # abstract
    send_members: ClassVar[Sequence[str]] = []
    encoder: ClassVar[json.JSONEncoder] = DjangoJSONEncoder()

    def serialize_data(self, instance: Model) -> dict[str, Any]:
        """The exposed fields plus every member of ``send_members``."""
        data = super().serialize_data(instance)
        members: dict[str, Any] = {}
        for path in self.send_members:
            value: Any = instance
            for part in path.split("."):
                value = getattr(value, part)
            if callable(value):
                value = value()
            members[path.replace(".", "__")] = value
        # Fields win over members of the same name (a model cannot have both anyway).
        for name, value in json.loads(self.encoder.encode(members)).items():
            data.setdefault(name, value)
        return data
