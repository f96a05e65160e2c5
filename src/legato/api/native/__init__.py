"""Routes under ``/legato/v1``: what only Legato has (see :mod:`legato.api`)."""

from fastapi import APIRouter

router = APIRouter()
"""Every route of this surface; :func:`legato.api.app.create_app` mounts it."""
