"""channels_classic.staticfiles: STATIC_URL served in development."""

from __future__ import annotations

import pytest

from channels_classic.layers import Delivery
from channels_classic.routing import Router
from channels_classic.staticfiles import StaticFilesConsumer, StaticFilesHandler
from worker.dispatch import Outcome, dispatch

from . import middleware
from .helpers import assemble, drain, header, message_for, request_content


@pytest.fixture
def static_dir(tmp_path, settings):
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body { color: red; }\n")
    (root / "big.bin").write_bytes(b"b" * (600 * 1024))
    settings.STATICFILES_DIRS = [str(root)]
    settings.STATIC_URL = "/static/"
    return root


def run(layer, path, **overrides):
    handler = StaticFilesHandler()
    return assemble(list(handler(message_for(layer, request_content(path, **overrides)))))


def test_serves_a_static_file(layer, static_dir):
    status, headers, body = run(layer, "/static/css/site.css")
    assert status == 200
    assert body == b"body { color: red; }\n"
    assert header(headers, b"content-type") == [b"text/css"]
    assert header(headers, b"content-length") == [b"21"]


def test_large_static_file_is_chunked(layer, static_dir):
    handler = StaticFilesHandler()
    replies = list(handler(message_for(layer, request_content("/static/big.bin"))))
    assert [len(reply["content"]) for reply in replies] == [0, 512 * 1024, 88 * 1024, 0]


def test_static_files_bypass_middleware(layer, static_dir, settings):
    settings.MIDDLEWARE = ["tests.handler.middleware.RecordingMiddleware"]
    run(layer, "/static/css/site.css")
    assert middleware.events == []
    run(layer, "/hello/")
    assert middleware.events == ["request /hello/", "response 200"]


def test_missing_static_file_is_django_404(layer, static_dir, settings):
    status, _, body = run(layer, "/static/nope.css")
    assert status == 404 and b"Not Found" in body
    settings.DEBUG = True
    status, _, body = run(layer, "/static/nope.css")
    assert status == 404 and b"nope.css" in body  # the technical 404 page names the file


def test_other_paths_go_to_the_views(layer, static_dir):
    status, _, body = run(layer, "/hello/")
    assert (status, body) == (200, b"Hello /hello/")


def test_static_url_on_another_host_is_not_served(layer, static_dir, settings):
    settings.STATIC_URL = "https://cdn.example.com/static/"
    status, _, _ = run(layer, "/static/css/site.css")
    assert status == 404  # went to the URLconf, which has no such route


def test_path_traversal_is_refused(layer, static_dir, caplog):
    (static_dir.parent / "secret.txt").write_text("secret")
    status, _, body = run(layer, "/static/../secret.txt")
    assert status == 400 and b"secret" not in body  # Django's SuspiciousFileOperation answer
    assert "is located outside of the base path" in caplog.text  # on django.security


def test_conditional_get_is_answered_304(layer, static_dir):
    _, headers, _ = run(layer, "/static/css/site.css")
    [modified] = header(headers, b"last-modified")
    status, _, body = run(layer, "/static/css/site.css", headers=[
        [b"host", b"testserver"], [b"if-modified-since", modified],
    ])
    assert (status, body) == (304, b"")


def test_static_files_consumer_through_dispatch(layer, static_dir):
    router = Router([])
    router.check_default(http_consumer=StaticFilesConsumer())
    result = dispatch(Delivery("http.request", request_content("/static/css/site.css")),
                      layer, router)
    assert result.outcome is Outcome.CONSUMED
    assert assemble(drain(layer))[2] == b"body { color: red; }\n"
