"""``Binding``: two-way data binding between a Django model and channel groups.

Outbound
    Every binding class connects to its model's ``pre_save``/``post_save``/``pre_delete``/
    ``post_delete`` signals.  Before a change it records which groups saw the instance
    (:meth:`Binding.group_names` of the row as stored: one query per update), after the change
    which groups see it now, and turns the
    difference into messages, in the order Django DDP used: ``delete`` to the groups that lost
    the instance, ``update`` to those that kept it, ``create`` to those that gained it (see
    :func:`plan_outbound`).  Each payload comes from :meth:`Binding.serialize` and is framed by
    :meth:`Binding.encode`; an empty payload is not sent.

    Payloads are built when the signal fires, so they describe the row as this change left it
    (after a delete Django clears the instance's primary key).  They are *sent* when the
    transaction commits (``transaction.on_commit``): a client must never hear about a row that
    a rollback takes back, nor fetch one that is not visible yet.  Outside any transaction
    (autocommit) the change is committed already and the messages go at once.  Inside
    Django's ``TestCase``, where nothing ever commits, they go at once too (see
    :func:`in_transaction`).  A send that fails after the commit (the layer is down) is
    logged; it never turns a committed save into an exception.

Inbound
    :meth:`Binding.consumer` is a consumer: it applies the session decorators the class asks
    for, then :meth:`Binding.trigger_inbound` decodes the message into ``(action, pk, data)``
    (:meth:`Binding.deserialize`), asks :meth:`Binding.has_permission` and runs
    :meth:`Binding.create`, :meth:`Binding.update` or :meth:`Binding.delete`.  A message that
    cannot be decoded, or names an unknown action, raises :class:`InvalidBindingMessage` (a
    ``ValueError``, what 1.x raised); the worker logs it and the socket stays open.

Registration
    :class:`BindingMetaclass` remembers every subclass.  ``channels_classic``'s app config
    registers them all once the app registry is ready; a class defined later (in a module
    imported afterwards) registers as it is created.  A class that sets ``model = None`` itself
    is abstract and connects nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from .. import DEFAULT_CHANNEL_LAYER
from ..auth import channel_session_user
from ..channel import Group
from ..message import Message
from ..sessions import channel_session

__all__ = [
    "ACTIONS",
    "CREATE",
    "DELETE",
    "UPDATE",
    "Binding",
    "BindingMetaclass",
    "InvalidBindingMessage",
    "plan_outbound",
]

logger = logging.getLogger("channels_classic.binding")

CREATE = "create"
UPDATE = "update"
DELETE = "delete"
#: The actions an inbound message may ask for.
ACTIONS = (CREATE, UPDATE, DELETE)

#: Attribute on model instances holding, per binding class, the groups seen before a change.
_OLD_GROUPS_ATTR = "_binding_group_names"

_SIGNALS = (
    ("pre_save", pre_save, "pre_save_receiver"),
    ("post_save", post_save, "post_save_receiver"),
    ("pre_delete", pre_delete, "pre_delete_receiver"),
    ("post_delete", post_delete, "post_delete_receiver"),
)


class InvalidBindingMessage(ValueError):
    """An inbound binding message that cannot be applied: not decodable, an unknown action,
    data of the wrong shape, or an object that does not exist.

    A ``ValueError``, as Channels 1.x raised for a bad action.
    """


def plan_outbound(old: Iterable[str], new: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Which action goes to which groups after a change, in DDP order.

    Args:
        old: the groups that saw the instance before the change.
        new: the groups that see it after the change.

    Returns:
        ``[(action, sorted group names), ...]`` for ``delete`` (groups that lost the
        instance), ``update`` (groups that kept it) and ``create`` (groups that gained it),
        leaving out actions with no group.
    """
    before, after = set(old), set(new)
    plan = [
        (DELETE, sorted(before - after)),
        (UPDATE, sorted(before & after)),
        (CREATE, sorted(after - before)),
    ]
    return [(action, groups) for action, groups in plan if groups]


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True if a change made now on ``using`` becomes visible only at a later commit.

    Inside Django's ``TestCase`` nothing ever commits: the whole test runs in a transaction
    that is rolled back.  There this is False, so tests see the messages at once, as in
    Channels 1.x (Django itself wraps every delete in an atomic block, which would otherwise
    hold them back for good).  Test commit and rollback behaviour with a
    ``TransactionTestCase``.
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        return False
    blocks = connection.atomic_blocks
    # ``_from_testcase`` marks the blocks TestCase opened around the test (Django >= 3.2).
    return not (blocks and getattr(blocks[0], "_from_testcase", False))


class BindingMetaclass(type):
    """Remembers every binding class and registers it once Django's apps are ready."""

    binding_classes: ClassVar[list[type]] = []
    register_immediately: ClassVar[bool] = False
    _lock: ClassVar[threading.RLock] = threading.RLock()

    def __new__(mcs, name: str, bases: tuple[type, ...], body: dict[str, Any]) -> Any:
        klass = super().__new__(mcs, name, bases, body)
        if any(isinstance(base, BindingMetaclass) for base in bases):
            with mcs._lock:
                mcs.binding_classes.append(klass)
                if mcs.register_immediately:
                    klass.register()  # type: ignore[attr-defined]
        return klass

    @classmethod
    def register_all(mcs) -> None:  # noqa: N804
        """Register every binding class defined so far, and every later one as it is made.

        Called by ``channels_classic``'s ``AppConfig.ready()``; calling it again is harmless.
        """
        with mcs._lock:
            for binding_class in list(mcs.binding_classes):
                binding_class.register()  # type: ignore[attr-defined]
            mcs.register_immediately = True


class Binding(metaclass=BindingMetaclass):
    """A two-way binding between a model and channel groups; subclass it per model.

    Outbound, implement :meth:`group_names` and :meth:`serialize` (and :meth:`encode`, which
    protocol-specific subclasses such as
    :class:`~channels_classic.binding.websockets.WebsocketBinding` provide).  Inbound,
    implement :meth:`deserialize`, :meth:`has_permission`, :meth:`create` and :meth:`update`,
    and route :meth:`consumer` (usually behind a demultiplexer).

    Attributes:
        model: the model class, or ``"app_label.ModelName"``.  ``model = None`` in a class body
            makes that class abstract.
        fields: names of the fields sent and accepted, or ``["__all__"]``.
        exclude: names of fields *not* sent or accepted (used when ``fields`` is not set).
            One of ``fields`` and ``exclude`` is required.
        stream: the stream name the payloads are framed with.
        channel_session_user: inbound messages get ``message.user`` from the channel
            session (the default, as in 1.x).
        channel_session: inbound messages get ``message.channel_session`` only.
        channel_layer_alias: the layer outbound messages go to.
        model_label: ``"app_label.modelname"``, set on registration.
        instance: the instance being sent (outbound), set per change.
        signal_kwargs: the keyword arguments of the model signal that triggered the send
            (``using``, ``update_fields``, ``raw``...), set per change.
        message, action, pk, data, user: the inbound message and what it asked, set per
            message.
    """

    model: ClassVar[type[Model] | str | None] = None
    fields: ClassVar[Sequence[str] | str | None] = None
    exclude: ClassVar[Sequence[str] | None] = None
    stream: ClassVar[str | None] = None
    channel_session_user: ClassVar[bool] = True
    channel_session: ClassVar[bool] = False
    channel_layer_alias: ClassVar[str] = DEFAULT_CHANNEL_LAYER
    model_label: ClassVar[str] = ""

    def __init__(self) -> None:
        self.instance: Model | None = None
        self.signal_kwargs: dict[str, Any] = {}
        self.message: Message | None = None
        self.kwargs: dict[str, Any] = {}
        self.action: str | None = None
        self.pk: Any = None
        self.data: Any = None
        self.user: Any = None

    # -- registration ------------------------------------------------------------------------

    @classmethod
    def register(cls) -> None:
        """Resolve the model and connect the model signals (idempotent).

        Raises:
            ImproperlyConfigured: no model, no ``fields``/``exclude``, or an unknown model name.
        """
        for model in cls.get_registered_models():
            for name, signal, receiver in _SIGNALS:
                signal.connect(
                    getattr(cls, receiver), sender=model, weak=False,
                    dispatch_uid=cls._dispatch_uid(name),
                )

    @classmethod
    def unregister(cls) -> None:
        """Disconnect the model signals and forget the class (for tests and reloads)."""
        model = cls.model
        if isinstance(model, type):
            for name, signal, _ in _SIGNALS:
                signal.disconnect(sender=model, dispatch_uid=cls._dispatch_uid(name))
        with BindingMetaclass._lock:
            if cls in BindingMetaclass.binding_classes:
                BindingMetaclass.binding_classes.remove(cls)

    @classmethod
    def _dispatch_uid(cls, signal_name: str) -> str:
        return f"channels_classic.binding:{cls.__module__}.{cls.__qualname__}:{id(cls)}:" \
               f"{signal_name}"

    @classmethod
    def get_registered_models(cls) -> list[type[Model]]:
        """The models this class binds: ``[model]``, or ``[]`` for an abstract class.

        Resolves a ``"app_label.ModelName"`` string and sets :attr:`model_label`.
        """
        if cls.model is None:
            if "model" in cls.__dict__:
                return []  # declared abstract
            raise ImproperlyConfigured(f"Binding {cls.__qualname__} must set the model attribute")
        if cls.fields is None and cls.exclude is None:
            raise ImproperlyConfigured(
                f"Binding {cls.__qualname__} must set fields (a list of names, or ['__all__']) "
                "or exclude"
            )
        if isinstance(cls.model, str):
            try:
                cls.model = apps.get_model(cls.model)
            except (LookupError, ValueError) as exc:
                raise ImproperlyConfigured(
                    f"Binding {cls.__qualname__}: model {cls.model!r} not found ({exc})"
                ) from exc
        model = cls.model
        if not (isinstance(model, type) and issubclass(model, Model)):
            raise ImproperlyConfigured(
                f"Binding {cls.__qualname__}: model must be a model class or "
                f"'app_label.ModelName', not {model!r}"
            )
        meta: Any = getattr(model, "_meta")  # noqa: B009 (model classes are untyped here)
        cls.model_label = f"{meta.app_label.lower()}.{(meta.object_name or '').lower()}"
        return [model]

    @classmethod
    def model_class(cls) -> type[Model]:
        """The resolved model class.

        Raises:
            ImproperlyConfigured: the class is abstract or not registered yet.
        """
        if not isinstance(cls.model, type):
            cls.get_registered_models()
        if not isinstance(cls.model, type):
            raise ImproperlyConfigured(f"Binding {cls.__qualname__} has no model")
        return cls.model

    # -- outbound ----------------------------------------------------------------------------

    @classmethod
    def group_names(cls, instance: Model) -> Iterable[str]:
        """The groups that should see ``instance`` as it is now.  Override it."""
        raise NotImplementedError(f"{cls.__qualname__} must implement group_names(instance)")

    def serialize(self, instance: Model, action: str) -> dict[str, Any]:
        """The payload describing ``action`` on ``instance``; ``{}`` sends nothing."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement serialize()")

    @classmethod
    def encode(cls, stream: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The message sent to the groups for ``payload`` on ``stream``."""
        raise NotImplementedError(f"{cls.__qualname__} must implement encode(stream, payload)")

    @classmethod
    def pre_save_receiver(cls, instance: Model, **kwargs: Any) -> None:
        """``pre_save``: remember the groups that see the instance before the change."""
        cls.pre_change_receiver(instance, CREATE if instance._state.adding else UPDATE)

    @classmethod
    def post_save_receiver(cls, instance: Model, created: bool = False, **kwargs: Any) -> None:
        """``post_save``: send the change."""
        cls.post_change_receiver(instance, CREATE if created else UPDATE, **kwargs)

    @classmethod
    def pre_delete_receiver(cls, instance: Model, **kwargs: Any) -> None:
        """``pre_delete``: remember the groups that see the instance before the delete."""
        cls.pre_change_receiver(instance, DELETE)

    @classmethod
    def post_delete_receiver(cls, instance: Model, **kwargs: Any) -> None:
        """``post_delete``: send the delete."""
        cls.post_change_receiver(instance, DELETE, **kwargs)

    @classmethod
    def pre_change_receiver(cls, instance: Model, action: str) -> None:
        """Record the groups seeing ``instance`` before ``action`` (none for a create).

        For an update they are computed from the row as stored: by ``pre_save`` the instance
        already carries the new values, and groups computed from it would never show the
        instance moving between groups.
        """
        if action == CREATE:
            old: set[str] = set()
        elif action == UPDATE:
            stored = cls.stored_instance(instance)
            old = set() if stored is None else cls._checked_group_names(stored)
        else:
            old = cls._checked_group_names(instance)
        # Kept on the instance, per binding class: a class-wide slot would mix up
        # concurrent saves in different threads.
        recorded = instance.__dict__.setdefault(_OLD_GROUPS_ATTR, {})
        recorded[cls] = old

    @classmethod
    def stored_instance(cls, instance: Model) -> Model | None:
        """The row ``instance`` will overwrite, as stored now, or None if there is none."""
        if instance.pk is None:
            return None
        manager = type(instance)._base_manager.using(instance._state.db or DEFAULT_DB_ALIAS)
        stored: Model | None = manager.filter(pk=instance.pk).first()
        return stored

    @classmethod
    def post_change_receiver(cls, instance: Model, action: str, **kwargs: Any) -> None:
        """Build the messages for the group difference now; send them at commit."""
        recorded = instance.__dict__.get(_OLD_GROUPS_ATTR, {})
        old = recorded.pop(cls, set())
        new = set() if action == DELETE else cls._checked_group_names(instance)
        self = cls()
        self.instance = instance
        self.signal_kwargs = kwargs
        sends = self.outbound_messages(instance, old, new)
        if sends:
            self.send_when_committed(sends, kwargs.get("using") or DEFAULT_DB_ALIAS)

    @classmethod
    def _checked_group_names(cls, instance: Model) -> set[str]:
        names = cls.group_names(instance)
        if isinstance(names, (str, bytes)):
            raise TypeError(
                f"{cls.__qualname__}.group_names() must return a list of group names, not the "
                f"single string {names!r}"
            )
        return set(names or ())

    def outbound_messages(
        self, instance: Model, old: set[str], new: set[str]
    ) -> list[tuple[list[str], dict[str, Any]]]:
        """``[(group names, message)]`` for a change seen by ``old`` then ``new`` groups."""
        sends = []
        for action, groups in plan_outbound(old, new):
            payload = self.serialize(instance, action)
            if not payload:
                continue  # nothing to say about this change
            if self.stream is None:
                raise ImproperlyConfigured(
                    f"Binding {type(self).__qualname__} has no stream to send on"
                )
            sends.append((groups, self.encode(self.stream, payload)))
        return sends

    def send_when_committed(
        self, sends: list[tuple[list[str], dict[str, Any]]], using: str
    ) -> None:
        """Send now if the change is committed, else when the transaction commits."""
        if in_transaction(using):
            transaction.on_commit(lambda: self.send_messages(sends), using=using, robust=True)
        else:
            self.send_messages(sends)

    def send_messages(self, sends: list[tuple[list[str], dict[str, Any]]]) -> None:
        """Send each message to its groups; a failed send is logged, never raised.

        Inside a consumer the sends are buffered until it returns, like any ``Group.send``.
        """
        for groups, message in sends:
            for name in groups:
                try:
                    Group(name, alias=self.channel_layer_alias).send(message)
                except Exception as exc:  # the change is committed; the save must not fail
                    logger.error(
                        "Binding %s could not send a change of %s pk=%r to group %s (%s: %s)",
                        type(self).__qualname__, self.model_label,
                        getattr(self.instance, "pk", None), name, type(exc).__name__, exc,
                    )

    # -- inbound -----------------------------------------------------------------------------

    @classmethod
    def consumer(cls, message: Message, **kwargs: Any) -> None:
        """The consumer to route (or to list in a demultiplexer's ``consumers``)."""
        cls.get_handler()(message, **kwargs)

    @classmethod
    def get_handler(cls) -> Callable[..., Any]:
        """:meth:`trigger_inbound` wrapped in the session decorators the class asks for."""
        handler: Callable[..., Any] = cls.trigger_inbound
        if cls.channel_session_user:
            return channel_session_user(handler)
        if cls.channel_session:
            return channel_session(handler)
        return handler

    @classmethod
    def trigger_inbound(cls, message: Message, **kwargs: Any) -> None:
        """Decode ``message`` and run the action it asks for, if permitted."""
        from django.contrib.auth.models import AnonymousUser  # needs the app registry

        self = cls()
        self.message = message
        self.kwargs = kwargs
        self.action, self.pk, self.data = self.deserialize(message)
        self.user = getattr(message, "user", None)
        if self.user is None:
            self.user = AnonymousUser()
        self.run_action(self.action, self.pk, self.data)

    def deserialize(self, message: Message) -> tuple[str, Any, Any]:
        """``(action, pk, data)`` from an inbound message.  Override it.

        Raises:
            InvalidBindingMessage: the message cannot be decoded.
        """
        raise NotImplementedError(f"{type(self).__qualname__} must implement deserialize()")

    def has_permission(self, user: Any, action: str, pk: Any) -> bool:
        """Whether ``user`` (maybe an ``AnonymousUser``) may do ``action`` on ``pk``.
        Override it."""
        raise NotImplementedError(
            f"{type(self).__qualname__} must implement has_permission(user, action, pk)"
        )

    def run_action(self, action: str, pk: Any, data: Any) -> None:
        """Check the action and the permission, then create, update or delete.

        Raises:
            InvalidBindingMessage: ``action`` is not create, update or delete, or an update
                or delete has no pk.
        """
        if action not in ACTIONS:
            raise InvalidBindingMessage(
                f"Binding {type(self).__qualname__}: bad action {action!r} (expected one of "
                f"{', '.join(ACTIONS)})"
            )
        if action != CREATE and pk is None:
            raise InvalidBindingMessage(
                f"Binding {type(self).__qualname__}: {action} needs the pk of the instance"
            )
        if not self.has_permission(self.user, action, pk):
            logger.info(
                "Binding %s: %s %s pk=%r refused for %s", type(self).__qualname__, action,
                self.model_label, pk, self.user,
            )
            return
        if action == CREATE:
            self.create(data)
        elif action == UPDATE:
            self.update(pk, data)
        else:
            self.delete(pk)

    def create(self, data: Any) -> None:
        """Make a new instance from ``data``.  Override it."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement create(data)")

    def update(self, pk: Any, data: Any) -> None:
        """Apply ``data`` to the instance ``pk``.  Override it."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement update(pk, data)")

    def delete(self, pk: Any) -> None:
        """Delete the instance ``pk`` (nothing happens if there is none).

        Raises:
            InvalidBindingMessage: ``pk`` is not a valid primary key value.
        """
        try:
            self.model_class().objects.filter(pk=pk).delete()
        except (TypeError, ValueError, ValidationError) as exc:
            raise InvalidBindingMessage(
                f"Binding {type(self).__qualname__}: invalid pk {pk!r} ({exc})"
            ) from exc
