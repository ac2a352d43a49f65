"""What discovery finds: a :class:`Submission` (files in memory, problems as sentences), and
the one exception it raises for an instructor's mistake."""

from __future__ import annotations

from dataclasses import dataclass, field


class DiscoveryError(Exception):
    """An instructor error: one clear sentence (no such path, nothing gradable found)."""


@dataclass
class Submission:
    """One student's submission, read into memory."""

    student: str  # safe, unique id: [A-Za-z0-9._@+-] (plus "~N" for duplicates), <= 100 chars
    origin: str  # where it came from, for reports (path, or path!member for zips)
    files: dict[str, bytes]  # 'conv.py' -> bytes: the .py files of the cnn package (flat names)
    problems: list[str] = field(default_factory=list)  # one clear sentence each
    metadata: dict = field(default_factory=dict)  # Gradescope/Canvas names and ids
