"""Retention: old feedback and audit entries are deleted by `python -m assistant purge`."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from assistant.governance.retention import purge_jsonl
from conftest import ROOT


def _line(days_ago: int, now: dt.datetime) -> str:
    return json.dumps({"time": (now - dt.timedelta(days=days_ago)).isoformat(), "action": "activate"})


def test_purge_drops_only_lines_older_than_the_retention(tmp_path):
    now = dt.datetime(2026, 11, 29, tzinfo=dt.timezone.utc)
    log = tmp_path / "admin-audit.jsonl"
    log.write_text("\n".join([_line(400, now), _line(181, now), _line(179, now), "not json", _line(1, now)]) + "\n")
    assert purge_jsonl(log, 180, now=now) == 2
    kept = log.read_text().splitlines()
    assert len(kept) == 3 and kept[1] == "not json"


def test_purge_command_reports_what_it_deleted(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-audit.jsonl").write_text(_line(500, dt.datetime.now(dt.timezone.utc)) + "\n")
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-m", "assistant", "purge"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("0 Feedback-Einträge, 1 Verwaltungs-Protokolleinträge und 0 Antwortprotokoll-Einträge älter als "
            "180 Tage gelöscht.") in done.stdout
    assert (data / "admin-audit.jsonl").read_text() == ""
