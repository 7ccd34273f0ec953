"""channels_classic.handler.AsgiHandler: Django's request/response cycle per message."""

from __future__ import annotations

import json
import threading

import pytest
from django.core import signals

from channels_classic.handler import AsgiHandler, HttpResponseLater

from . import middleware, views
from .helpers import assemble, header, message_for, request_content

RECORDING = "tests.handler.middleware.RecordingMiddleware"
CATCH_ALL = "tests.handler.middleware.CatchAllMiddleware"
LATER_IN_VIEW_MW = "tests.handler.middleware.LaterInProcessViewMiddleware"


def run(layer, path="/hello/", handler=None, **overrides):
    handler = handler or AsgiHandler()
    return list(handler(message_for(layer, request_content(path, **overrides))))


@pytest.fixture
def signal_log():
    """Records request_started/request_finished."""
    log = []

    def started(sender, **kwargs):
        log.append(("started", sender))

    def finished(sender, **kwargs):
        log.append(("finished", sender))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield log
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


def test_view_response(layer, signal_log):
    status, headers, body = assemble(run(layer))
    assert (status, body) == (200, b"Hello /hello/")
    assert header(headers, b"content-type") == [b"text/html; charset=utf-8"]
    assert signal_log == [("started", AsgiHandler), ("finished", AsgiHandler)]


def test_nothing_runs_until_the_first_reply_is_taken(layer, signal_log):
    replies = AsgiHandler()(message_for(layer, request_content()))
    assert signal_log == []
    next(replies)
    assert signal_log[0] == ("started", AsgiHandler)


def test_request_meta_reaches_the_view(layer):
    _, _, body = assemble(run(
        layer, "/describe/", query_string=b"x=1&x=2", scheme="https",
        headers=[[b"host", b"testserver"], [b"cookie", b"k=v"]],
    ))
    seen = json.loads(body)
    assert seen["get"] == {"x": ["1", "2"]}
    assert seen["cookies"] == {"k": "v"}
    assert seen["secure"] is True
    assert seen["meta"]["HTTP_HOST"] == "testserver"


def test_root_path_sets_the_script_prefix(layer):
    _, _, body = assemble(run(layer, "/mount/describe/", root_path="/mount"))
    seen = json.loads(body)
    assert seen["path_info"] == "/describe/"
    assert seen["script_name"] == "/mount"
    assert seen["reversed"] == "/mount/hello/"  # reverse() sees the prefix


def test_unknown_url_is_django_404(layer, settings):
    status, _, body = assemble(run(layer, "/nowhere/"))
    assert status == 404
    assert b"Not Found" in body
    settings.DEBUG = True
    status, _, body = assemble(run(layer, "/nowhere/"))
    assert status == 404 and b"Page not found" in body  # the technical 404 page


def test_view_exception_goes_through_handler500_and_is_logged(layer, caplog):
    status, _, body = assemble(run(layer, "/broken/"))
    assert (status, body) == (500, b"custom 500 page")
    record = next(record for record in caplog.records if record.name == "django.request")
    assert "Internal Server Error: /broken/" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


def test_last_resort_500_when_handler500_itself_fails(layer, caplog):
    views.hooks["handler500_fails"] = True
    status, _, body = assemble(run(layer, "/broken/"))
    assert (status, body) == (500, b"Internal Server Error")
    assert any(record.exc_info and record.exc_info[0] is KeyError for record in caplog.records)


def test_debug_propagate_exceptions_lets_the_error_escape(layer, settings):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True
    with pytest.raises(RuntimeError, match="the view is broken"):
        run(layer, "/broken/")


def test_undecodable_text_while_building_the_request_is_a_400(layer):
    from channels_classic.handler import AsgiRequest

    class Strict(AsgiRequest):
        def load_body(self):
            b"\xff".decode("utf-8")

    class Handler(AsgiHandler):
        request_class = Strict

    assert assemble(run(layer, handler=Handler()))[0] == 400


# -- ResponseLater ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/later/", "/later-1x/", "/later-return/"])
def test_response_later_sends_nothing_through_middleware(layer, settings, signal_log, path):
    settings.MIDDLEWARE = [RECORDING, CATCH_ALL, *settings.MIDDLEWARE]
    assert run(layer, path) == []
    # Middleware saw a (sentinel) response, not an exception; process_exception was skipped.
    assert middleware.events == [f"request {path}", f"response {HttpResponseLater.status_code}"]
    assert signal_log == [("started", AsgiHandler), ("finished", AsgiHandler)]


def test_response_later_from_process_view(layer, settings):
    settings.MIDDLEWARE = [RECORDING, LATER_IN_VIEW_MW]
    assert run(layer, "/hello/", query_string=b"later=1") == []
    assert assemble(run(layer, "/hello/"))[0] == 200


def test_other_exceptions_still_reach_process_exception(layer, settings):
    settings.MIDDLEWARE = [RECORDING, CATCH_ALL]
    status, headers, body = assemble(run(layer, "/broken/"))
    assert (status, body) == (500, b"caught by middleware")
    assert header(headers, b"x-recorded") == [b"yes"]
    assert "process_exception RuntimeError" in middleware.events


# -- malformed messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"method": 42},
        {"query_string": b"q=\xff"},
        {"headers": "nope"},
        {"client": "127.0.0.1:1"},
        {"body": 1.5},
    ],
)
def test_malformed_message_is_a_logged_400(layer, caplog, signal_log, overrides):
    status, _, body = assemble(run(layer, **overrides))
    assert status == 400
    assert b"Bad Request" in body
    assert "400 for a malformed http.request on http.response.test!conn1" in caplog.text
    assert signal_log == [("started", AsgiHandler), ("finished", AsgiHandler)]


def test_missing_path_is_a_400(layer):
    content = request_content()
    del content["path"]
    assert assemble(list(AsgiHandler()(message_for(layer, content))))[0] == 400


def test_unexpected_error_building_the_request_is_a_500(layer, caplog):
    from channels_classic.handler import AsgiRequest

    class Buggy(AsgiRequest):
        def load_body(self):
            raise ZeroDivisionError("bug")

    class Handler(AsgiHandler):
        request_class = Buggy

    status, _, _ = assemble(run(layer, handler=Handler()))
    assert status == 500
    assert "Could not build a request" in caplog.text


# -- streaming errors -------------------------------------------------------------------------


def test_error_while_streaming_ends_the_response_and_is_logged(layer, caplog):
    replies = run(layer, "/stream-breaks/")
    status, _, body = assemble(replies)
    assert status == 200 and body == b"first;"
    assert "Error while streaming the response to /stream-breaks/" in caplog.text


def test_error_before_the_first_message_is_a_plain_500(layer, caplog):
    class Broken(AsgiHandler):
        @classmethod
        def encode_response(cls, response):
            response.close()
            raise ValueError("cannot encode")
            yield  # a generator, like the real one

    status, _, body = assemble(run(layer, handler=Broken()))
    assert (status, body) == (500, b"Internal Server Error")
    assert "Could not encode the response to /hello/" in caplog.text


# -- middleware loading ---------------------------------------------------------------------------


def test_middleware_is_loaded_once_across_threads(layer, settings):
    settings.MIDDLEWARE = [RECORDING]
    before = middleware.instances
    handler = AsgiHandler()
    barrier = threading.Barrier(8)
    statuses = []

    def worker():
        barrier.wait()
        statuses.append(assemble(run(layer, handler=handler))[0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert middleware.instances - before == 1
