"""The technician's workbench: a local web app and an HTTP API onto the same engine.

A front door like :mod:`insolegen.cli`: ``insolegen serve`` starts it
(:mod:`insolegen.web.server`); the FastAPI app is built by
:func:`insolegen.web.app.create_app`. FastAPI and uvicorn come with the
``[web]`` extra and are imported only here.

May import: anything (a front door; it never imports the CLI).
"""
