"""The results JSONL: appended a line at a time and flushed, so a crash loses at most one line."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

Record = dict[str, Any]


def read_records(path: Path) -> list[Record]:
    """Every complete, valid line of a results file (a torn last line is skipped)."""
    records: list[Record] = []
    if not path.exists():
        return records
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # torn write: the process died mid-line
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "id" in record:
                records.append(record)
    return records


class ResultsFile:
    """Thread-safe appender. `resume=True` keeps the finished records and repairs a torn file."""

    def __init__(
        self, path: Path, resume: bool, retry_errors: bool = False, overwrite: bool = False
    ) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[Record] = []
        if resume:
            kept = read_records(path)
            if retry_errors:
                kept = [r for r in kept if not r.get("error")]
            self._rewrite(kept)
        elif path.exists() and path.stat().st_size > 0 and not overwrite:
            raise FileExistsError(
                f"{path} already has results: pass --resume to continue it, "
                "or --overwrite to start again"
            )
        else:
            path.write_text("", encoding="utf-8")
        self.done_ids = {str(r["id"]) for r in kept}
        self.records = kept
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def _rewrite(self, records: list[Record]) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        os.replace(tmp, self.path)

    def append(self, record: Record) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            self.records.append(record)
            self.done_ids.add(str(record["id"]))

    def close(self) -> None:
        self._fh.close()
