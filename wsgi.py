"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import gc

from server import create_app

app = create_app()
# What start-up made (the app, the models' metadata, the prebuilt statements and schemas)
# lives as long as the process, so the cyclic collector need not walk it again: a full
# collection of a freshly started app took 85 ms, a pause some request would wait out; after
# `freeze` it walks only what requests leave behind.
gc.freeze()
