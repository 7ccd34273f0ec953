"""URLs of the benchmark site."""

from django.urls import path

from . import views

urlpatterns = [path("hello", views.hello)]
