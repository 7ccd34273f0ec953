"""Ordinary Django views: the room chooser, the room page, and a name-based sign-in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .models import ChatMessage


class SignInForm(forms.Form):
    username = forms.SlugField(max_length=30, label="Name")
    password = forms.CharField(widget=forms.PasswordInput, max_length=128)


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/index.html", {
        "form": SignInForm(),
        "rooms": ChatMessage.objects.active_rooms(),
    })


def room(request: HttpRequest, room_name: str) -> HttpResponse:
    return render(request, "chat/room.html", {"room_name": room_name})


@require_POST
def login_view(request: HttpRequest) -> HttpResponse:
    """Sign in; a name that is not taken yet is registered with the given password."""
    form = SignInForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Names are letters, digits, - and _; a password is required.")
        return redirect("chat:index")
    username = form.cleaned_data["username"]
    password = form.cleaned_data["password"]
    users = get_user_model()
    if not users.objects.filter(username=username).exists():
        users.objects.create_user(username=username, password=password)
    user = authenticate(request, username=username, password=password)
    if user is None:
        messages.error(request, "That name is taken and the password does not match.")
        return redirect("chat:index")
    login(request, user)
    return redirect(request.POST.get("next") or "chat:index")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("chat:index")
