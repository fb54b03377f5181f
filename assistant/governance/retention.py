"""Deleting log lines older than the retention period (data protection)."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path


def purge_jsonl(path: Path, days: int, *, now: dt.datetime | None = None) -> int:
    """Drop the lines of a JSON-lines log whose "time" is older than `days`; returns how many.
    The file is replaced atomically, so a crash never leaves it half written."""
    if not path.is_file():
        return 0
    limit = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=days)
    kept, removed = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            when = dt.datetime.fromisoformat(json.loads(line)["time"])
        except (ValueError, KeyError, TypeError):
            kept.append(line)  # an unreadable line is kept for a human to look at, not silently lost
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        if when < limit:
            removed += 1
        else:
            kept.append(line)
    partial = path.with_name(path.name + ".part")
    partial.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    os.replace(partial, path)
    return removed
