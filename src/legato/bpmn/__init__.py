"""Reading BPMN 2.0 XML into the executable model."""

from legato.bpmn.reader import CheckedModel, check_for_deployment, load_for_deployment, read_bpmn
from legato.bpmn.validate import COMPATIBLE_WARNINGS, PROFILES, Profile

__all__ = [
    "COMPATIBLE_WARNINGS",
    "PROFILES",
    "CheckedModel",
    "Profile",
    "check_for_deployment",
    "load_for_deployment",
    "read_bpmn",
]
