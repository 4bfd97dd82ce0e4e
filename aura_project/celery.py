"""The Celery application: Redis broker, tasks discovered from the Django apps."""

import os

from celery import Celery
from celery.signals import setup_logging

from monitoring.logging import configure_celery_logging
from monitoring.metrics import connect_celery_signals

# Production unless named, as in asgi.py (docs/deployment/configuration.md).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aura_project.settings.prod")

app = Celery("aura")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task outcomes and durations as Prometheus metrics (docs/deployment/monitoring.md).
connect_celery_signals()
# Workers and beat log through settings.LOGGING (secrets scrubbed), not Celery's own handlers.
setup_logging.connect(configure_celery_logging)
