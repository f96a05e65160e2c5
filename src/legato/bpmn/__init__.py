"""Reading BPMN 2.0 XML into the executable model."""

from legato.bpmn.reader import load_for_deployment, read_bpmn

__all__ = ["load_for_deployment", "read_bpmn"]
