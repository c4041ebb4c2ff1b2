"""The Celery app.

The broker is CELERY_BROKER_URL, else REDIS_URL, else a queue in the application's PostgreSQL
(config/broker.py, by the `qmpg+` URL config/settings.py builds). Tests run tasks eagerly.
"""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# kombu imports the transport (and SQLAlchemy) only when a broker URL names it.
TRANSPORT_ALIASES["qmpg"] = "config.broker:Transport"

app = Celery("quartermaster")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
