"""Models for the binding tests: the 1.x documentation's ``IntegerValue`` and a richer
``Note`` (foreign key, many-to-many, automatic and hidden fields, members)."""

from django.conf import settings
from django.db import models


class IntegerValue(models.Model):
    """A named integer, as in the Channels 1.x data-binding documentation."""

    name = models.CharField(max_length=100, unique=True)
    value = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Tag(models.Model):
    """A label notes can carry."""

    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Note(models.Model):
    """A note with an owner, tags, a creation time and a field never sent to clients."""

    title = models.CharField(max_length=100)
    body = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    tags = models.ManyToManyField(Tag, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    secret = models.CharField(max_length=100, blank=True)

    @property
    def summary(self) -> str:
        """A property sent through ``send_members``."""
        return f"{self.title}: {self.body[:10]}"

    def title_length(self) -> int:
        """A method sent through ``send_members``."""
        return len(self.title)

    def __str__(self) -> str:
        return self.title
