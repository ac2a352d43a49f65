"""The sandbox: student code runs in a separate, limited, isolated worker process."""

from .errors import GradingStopped, WorkerStartError

__all__ = ["GradingStopped", "WorkerStartError"]
