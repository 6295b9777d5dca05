"""Writing the rows a load skipped, with their reasons, next to the data (after commit)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from analytics.store.ingest_report import FileLoadReport


def write_rejects(con: duckdb.DuckDBPyConnection, reports: list[FileLoadReport],
                   rejects_dir: Path) -> None:
    for report in reports:
        if not report.rows_rejected:
            continue
        rejects_dir.mkdir(parents=True, exist_ok=True)
        target = rejects_dir / f"{Path(report.file).name}.rejected.csv"
        rows = con.execute("""
            SELECT row_number, column_name, value, reason, record FROM _all_rejects
            WHERE file = ? ORDER BY row_number, column_name
        """, [report.file]).fetchall()
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "column", "value", "reason", "original_row_json"])
            writer.writerows(rows)
        report.rejects_file = str(target)
