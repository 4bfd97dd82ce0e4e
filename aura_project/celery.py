"""The Celery application: Redis broker, tasks discovered from the Django apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aura_project.settings.dev")

app = Celery("aura")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
