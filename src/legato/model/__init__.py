"""The executable process model: frozen dataclasses compiled from BPMN or the builder; no I/O."""

from legato.model.elements import *  # noqa: F403
from legato.model.elements import __all__ as _elements_all
from legato.model.expressions import Expression, VariableMapping
from legato.model.process import Definitions, ProcessDefinition, SequenceFlow, ServiceLevel

__all__ = [
    *_elements_all,
    "Definitions",
    "Expression",
    "ProcessDefinition",
    "SequenceFlow",
    "ServiceLevel",
    "VariableMapping",
]
