"""Seed 000, "Routing", routing.py.

The seed shows only the three routing lists; the imports and the three consumers above the
marker are not part of it (the seed names them without defining them).  Below the marker the
code is verbatim.
"""
# ruff: noqa

from channels_classic import Group
from channels_classic.routing import include, route


def poll_consumer(message):
    message.reply_channel.send({"status": 200, "headers": [], "content": b"polled"})


def chat_connect(message, room):
    message.reply_channel.send({"accept": True})
    Group("chat-%s" % room).add(message.reply_channel)


def chat_disconnect(message):
    Group("chat-%s" % message.content["path"].strip("/").split("/")[-1]).discard(
        message.reply_channel
    )


# ---- verbatim from the seed ----
http_routing = [
    route("http.request", poll_consumer, path=r"^/poll/$", method=r"^POST$"),
]

chat_routing = [
    route("websocket.connect", chat_connect, path=r"^/(?P<room>[a-zA-Z0-9_]+)/$"),
    route("websocket.disconnect", chat_disconnect),
]

routing = [
    # You can use a string import path as the first argument as well.
    include(chat_routing, path=r"^/chat"),
    include(http_routing),
]
