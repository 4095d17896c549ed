"""Event ids already published, kept across restarts so a re-delivered batch is not re-published.

HPP re-delivers every message of a batch that was not committed; after a crash between the
broker's ack and our commit, that would publish the same alarm twice. The set is bounded (the
oldest ids fall out) because only the last few batches can ever come back.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

from gemhost import atomicfile

FILE_NAME = "hpp_seen_ids.json"


class SeenIds:
    def __init__(self, state_dir: Path, limit: int = 5000) -> None:
        self.path = state_dir / FILE_NAME
        self._order: deque[str] = deque(maxlen=limit)
        self._set: set[str] = set()
        try:
            for item in json.loads(self.path.read_text(encoding="utf-8"))[-limit:]:
                self._remember(str(item))
        except (OSError, ValueError, TypeError):
            pass

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._set

    def __len__(self) -> int:
        return len(self._order)

    def _remember(self, event_id: str) -> None:
        if event_id in self._set:
            return
        if len(self._order) == self._order.maxlen:
            self._set.discard(self._order[0])
        self._order.append(event_id)
        self._set.add(event_id)

    def remember(self, ids: list[str]) -> None:
        """Remember ids in memory (call :meth:`save` to make it survive a restart)."""
        for event_id in ids:
            self._remember(event_id)

    def add(self, ids: list[str]) -> None:
        self.remember(ids)
        self.save()

    def save(self) -> None:
        """Write the file atomically (before the batch is committed)."""
        atomicfile.write_text(self.path, json.dumps(list(self._order)))
