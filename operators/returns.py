"""The set an operator's execute/invoke returns, typed as Blender defines it."""

from typing import Literal

OperatorReturn = set[Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]]
