"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

import os

from app import create_app

app = create_app(os.environ.get("GREENROUND_CONFIG", "development"))
