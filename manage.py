#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    # The developer's tool defaults to development; those settings refuse to load where
    # AURA_ENV=production (the image sets it, and names the production settings).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aura_project.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
