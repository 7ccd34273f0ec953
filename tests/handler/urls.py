"""URLconf for the handler tests."""

from django.urls import path

from . import views

urlpatterns = [
    path("hello/", views.hello, name="hello"),
    path("describe/", views.describe),
    path("echo/", views.echo_body),
    path("post/", views.echo_post),
    path("upload/", views.upload),
    path("later/", views.later),
    path("later-1x/", views.later_1x_spelling),
    path("later-return/", views.later_return),
    path("broken/", views.broken),
    path("stream/", views.stream),
    path("stream-async/", views.stream_async),
    path("stream-breaks/", views.stream_breaks),
    path("file/", views.file),
    path("big/", views.big),
    path("cookies/", views.cookies),
]

handler500 = "tests.handler.views.server_error"
