"""Create the binding test models."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="IntegerValue",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False,
                                        verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("value", models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False,
                                        verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False,
                                        verbose_name="ID")),
                ("title", models.CharField(max_length=100)),
                ("body", models.TextField(blank=True)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("secret", models.CharField(blank=True, max_length=100)),
                ("owner", models.ForeignKey(blank=True, null=True,
                                            on_delete=models.deletion.CASCADE,
                                            to=settings.AUTH_USER_MODEL)),
                ("tags", models.ManyToManyField(blank=True, to="bindingapp.tag")),
            ],
        ),
    ]
