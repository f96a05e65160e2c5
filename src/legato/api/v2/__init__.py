"""Routes under ``/v2``, shaped like Camunda 8's REST API (see :mod:`legato.api`).

Each resource has its module; :data:`router` mounts them all. CAMUNDA.md §3 is the wire
specification they follow (with the required members of the Python SDK's models, §3.7).
"""

from fastapi import APIRouter

from legato.api.v2 import (
    deployments,
    jobs,
    messages,
    operate,
    process_instances,
    system,
    user_tasks,
)

router = APIRouter()
"""Every route of this surface; :func:`legato.api.app.create_app` mounts it."""

for _module in (deployments, process_instances, jobs, messages, user_tasks, operate, system):
    router.include_router(_module.router)
