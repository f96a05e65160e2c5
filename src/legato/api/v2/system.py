"""The cluster's topology and the caller's identity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field

from legato import __version__
from legato.api.deps import EngineDep, PrincipalDep, require, signed_in_only
from legato.api.v2.common import DEFAULT_TENANT, Out
from legato.security import SYSTEM_READ

router = APIRouter(tags=["system"])

GATEWAY_VERSION = "8.8.0"
"""The Camunda 8 API version this surface follows."""


class Partition(Out):
    partitionId: int = 1
    role: str = "leader"
    health: str = "healthy"
    state: str = "active"


class BrokerInfo(Out):
    """An engine node that serves the database."""

    nodeId: int
    brokerId: str
    host: str
    port: int
    partitions: list[Partition]
    version: str


class TopologyResponse(Out):
    brokers: list[BrokerInfo]
    clusterId: str | None = None
    clusterSize: int
    partitionsCount: int = 1
    replicationFactor: int = 1
    gatewayVersion: str = GATEWAY_VERSION
    lastCompletedChangeId: str = "-1"


class TenantResult(Out):
    name: str = "Default"
    tenantId: str = DEFAULT_TENANT
    description: str | None = None


class CamundaUserResult(Out):
    username: str
    displayName: str
    email: str | None = None
    authorizedComponents: list[str] = Field(default_factory=list)
    tenants: list[TenantResult] = Field(default_factory=lambda: [TenantResult()])
    groups: list[str]
    roles: list[str]
    salesPlanType: str | None = None
    canLogout: bool = False
    permissions: list[str] = Field(default_factory=list)
    """Legato's own addition: what the caller may do."""
    jobTypes: list[str] | None = None
    """Legato's own addition: the job types a worker may work on (None for all)."""


@router.get(
    "/topology", response_model=TopologyResponse, dependencies=[Depends(require(SYSTEM_READ))]
)
def get_topology(engine: EngineDep) -> TopologyResponse:
    """The engine nodes that serve this database (each as a broker leading the one
    partition)."""
    nodes = [n for n in engine.nodes() if n.status == "running"]
    brokers = [
        BrokerInfo(
            nodeId=index,
            brokerId=node.node_id,
            host=node.host,
            port=0,
            partitions=[Partition(role="leader" if index == 0 else "follower")],
            version=__version__,
        )
        for index, node in enumerate(nodes)
    ]
    return TopologyResponse(brokers=brokers, clusterSize=max(len(brokers), 1))


@router.get(
    "/authentication/me",
    response_model=CamundaUserResult,
    dependencies=[Depends(signed_in_only)],
)
def get_authentication(principal: PrincipalDep) -> CamundaUserResult:
    """Who the caller is, with their roles and groups (any authenticated caller)."""
    components: list[Any] = ["*"] if "admin" in principal.roles else []
    return CamundaUserResult(
        username=principal.name,
        displayName=principal.name,
        authorizedComponents=components,
        groups=sorted(principal.groups),
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
        jobTypes=None if principal.job_types is None else sorted(principal.job_types),
    )
