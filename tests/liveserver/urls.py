"""Views of the live-server tests: a plain view and the JavaScript bridge's test page."""

from django.conf import settings
from django.http import HttpResponse
from django.template import Context, Template
from django.urls import path

BRIDGE_PAGE = """{% load static %}<!doctype html>
<html><head><title>bridge</title><link rel="icon" href="data:,">
<script src="{% static 'channels/js/websocketbridge.js' %}"></script>
</head><body>
<script>
  // Everything the bridges deliver, in order, for the test to read.
  window.events = [];
  function record() { window.events.push([].slice.call(arguments)); }
  var fast = {minReconnectionDelay: 100, maxReconnectionDelay: 400};

  window.echo = new channels.WebSocketBridge({
    onInvalidMessage: function (data, error) { record('invalid', data); }
  });
  echo.listen(function (message, stream) { record('echo', message, stream); });
  echo.connect('/echo/', undefined, fast);
  echo.socket.addEventListener('open', function () { record('echo-open'); });
  echo.socket.onclose = function (event) { record('echo-close', event.code); };

  window.streams = new channels.WebSocketBridge();
  streams.connect('/streams/', undefined, fast);
  streams.listen(function (message, stream) { record('unexpected', message, stream); });
  streams.demultiplex('alpha', function (payload, stream) { record('alpha', payload, stream); });
  streams.demultiplex('beta', function (payload, stream) { record('beta', payload, stream); });
  streams.socket.addEventListener('open', function () { record('streams-open'); });
</script>
</body></html>
"""


def hello(request):
    return HttpResponse(settings.LIVE_GREETING, content_type="text/plain")


def bridge(request):
    return HttpResponse(Template(BRIDGE_PAGE).render(Context()))


urlpatterns = [
    path("hello/", hello),
    path("bridge/", bridge),
]
