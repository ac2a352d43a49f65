"""Errors the sandbox raises to its caller (never for anything student code does)."""

from __future__ import annotations


class WorkerStartError(RuntimeError):
    """The grader could not start a sandbox worker: the grader's trouble, not the student's.

    Raised by :func:`autograder.sandbox.runner.run_calls` when the launcher fails, the worker
    dies before its first status line (before any student code ran), the sandbox cannot be
    applied, or no worker uid can be leased. The caller marks the student "not graded"
    (never cached as done, retried on the next run); ``str()`` is one sentence.
    """


class GradingStopped(BaseException):
    """The grading process is stopping (a signal): no new worker is started.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that code catching ``Exception`` for
    one student's failure does not turn a stop into that student's result.
    """
