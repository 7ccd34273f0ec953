"""Seed 001, "First Consumers", consumers.py — verbatim but for the import rename."""
# ruff: noqa

from django.http import HttpResponse
from channels_classic.handler import AsgiHandler
def http_consumer(message):
    # Make standard HTTP response - access ASGI path attribute directly
    response = HttpResponse("Hello world! You asked for %s" % message.content['path'])
    # Encode that response into message format (ASGI)
    for chunk in AsgiHandler.encode_response(response):
        message.reply_channel.send(chunk)
