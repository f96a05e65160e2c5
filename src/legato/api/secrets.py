"""Which external workers get the secrets a job names (``secrets.CRM_TOKEN``).

A worker's API key reads the secrets of a job only when the key is limited to job types and
the job's type is one of them (``legato keys create crm-worker --role worker --job-type crm``):
the key then exists for that work and nothing else. A key for every job type, a person, or
an admin gets the job with its references unresolved (``secrets.CRM_TOKEN`` as written), so
a broad credential never carries every secret of the installation. The values are resolved
by the engine's provider into the answer only (see
:meth:`legato.runtime.engine.Engine.reveal_secrets`); nothing is stored or logged.
"""

from __future__ import annotations

from collections.abc import Sequence

from legato.runtime.engine import Engine
from legato.runtime.types import ActivatedJob
from legato.security import Principal


def may_read_secrets(principal: Principal, job_type: str) -> bool:
    """Whether ``principal`` gets the secrets of jobs of ``job_type``."""
    return principal.job_types is not None and job_type in principal.job_types


def jobs_for_worker(
    engine: Engine, principal: Principal, jobs: Sequence[ActivatedJob]
) -> list[ActivatedJob]:
    """``jobs`` as ``principal`` receives them: with the secrets it may read resolved."""
    allowed = [job for job in jobs if may_read_secrets(principal, job.type)]
    if not allowed:
        return list(jobs)
    revealed = {job.key: job for job in engine.reveal_secrets(allowed)}
    kept = []
    for job in jobs:
        if not may_read_secrets(principal, job.type):
            kept.append(job)
        elif job.key in revealed:  # else failed: a secret is missing (an incident names it)
            kept.append(revealed[job.key])
    return kept
