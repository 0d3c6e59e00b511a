from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from reclio_admin import datadir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reclio_admin.settings")
datadir.prepare()
application = get_asgi_application()
