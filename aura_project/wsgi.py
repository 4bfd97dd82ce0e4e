import os

from django.core.wsgi import get_wsgi_application

# Production unless named, as in asgi.py (docs/deployment/configuration.md).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aura_project.settings.prod")
application = get_wsgi_application()
