"""Data binding: model changes sent to groups, and model changes made by clients.

::

    from channels_classic.binding.websockets import WebsocketBinding

    class IntegerValueBinding(WebsocketBinding):
        model = IntegerValue
        stream = "intval"
        fields = ["name", "value"]

        @classmethod
        def group_names(cls, instance):
            return ["intval-updates"]

        def has_permission(self, user, action, pk):
            return True

See :mod:`channels_classic.binding.base` for how changes are turned into messages.
"""

from .base import CREATE, DELETE, UPDATE, Binding, BindingMetaclass, InvalidBindingMessage

__all__ = ["CREATE", "DELETE", "UPDATE", "Binding", "BindingMetaclass", "InvalidBindingMessage"]
