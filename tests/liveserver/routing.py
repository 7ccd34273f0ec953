"""Routes of the live-server tests: echo sockets for the JavaScript bridge, the bindings."""

from channels_classic.generic.websockets import JsonWebsocketConsumer, WebsocketDemultiplexer
from channels_classic.routing import route_class
from tests.bindingapp.bindings import Demultiplexer


class EchoConsumer(JsonWebsocketConsumer):
    """Echoes JSON; on request, sends a frame that is not JSON, or closes the socket."""

    def receive(self, content, **kwargs):
        if content == {"please": "close"}:
            self.send({"closing": True}, close=True)
        elif content == {"please": "garbage"}:
            self.message_reply({"text": "this is not JSON"})
            self.send({"after": "garbage"})
        else:
            self.send({"echo": content})


class StreamEcho(JsonWebsocketConsumer):
    """Behind the demultiplexer: answers on its own stream."""

    def connect(self, message, **kwargs):
        pass  # the demultiplexer accepts the socket

    def receive(self, content, multiplexer=None, **kwargs):
        multiplexer.send({"echo": content, "from": multiplexer.stream})


class StreamDemultiplexer(WebsocketDemultiplexer):
    consumers = {"alpha": StreamEcho, "beta": StreamEcho}


channel_routing = [
    route_class(EchoConsumer, path=r"^/echo/$"),
    route_class(StreamDemultiplexer, path=r"^/streams/$"),
    route_class(Demultiplexer, path=r"^/binding/$"),
]
