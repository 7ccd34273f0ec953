"""URLs for the unit-test app."""

from django.http import HttpResponse
from django.urls import path


def hello(request):
    return HttpResponse(f"Hello {request.path}")


urlpatterns = [path("hello/", hello)]
