"""Routes under ``/v2``, shaped like Camunda 8's REST API (see :mod:`legato.api`)."""

from fastapi import APIRouter

router = APIRouter()
"""Every route of this surface; :func:`legato.api.app.create_app` mounts it."""
