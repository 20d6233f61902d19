"""One /diagnostics message (diagnostic_msgs) for a node's status, the way RViz and rqt_robot_monitor read it."""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
LINK = "edge-cloud link"


def diagnostic_array(header, level, name: str, message: str, values: dict[str, str],
                     hardware_id: str = LINK) -> DiagnosticArray:
    """A DiagnosticArray holding one status: `level` (OK/WARN/ERROR), `name`, `message` and key-values."""
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=v) for k, v in values.items()])
    return DiagnosticArray(header=header, status=[status])
