"""A view for the HTTP paths of the real-process tests."""

from django.http import HttpResponse
from django.urls import path


def hello(request):
    return HttpResponse(f"Hello from {request.path}")



urlpatterns = [path("hello/", hello)]
