"""Loading one file, the nesting steps: a vendor's export rewritten into the store's fields,
and the dotted paths a mapping or a known name reaches into.
"""

from __future__ import annotations

import contextlib

from analytics.errors import InputFileError
from analytics.store import cells
from analytics.store.columns import nested_candidates
from analytics.store.connection import one
from analytics.store.ingest_report import FileLoadReport
from analytics.store.loader_base import LoaderBase
from analytics.store.nesting import NestedColumns
from analytics.store.vendor_sql import flat_plan
from analytics.store.vendors import ROW_COLUMN, choose_preset, not_this_export, with_mapping


class NestingSteps(LoaderBase):
    def _local_time(self) -> contextlib.AbstractContextManager[None]:
        return cells.local_time(self.con, self.timezone)

    def _replace_raw(self, select_sql: str) -> dict[str, str]:
        """Rewrite the raw table (order kept), numbering rows by the file's own row numbers."""
        self._sql(f"CREATE OR REPLACE TEMP TABLE _flat AS {select_sql}")
        self._sql("DROP TABLE _raw")
        self._sql("ALTER TABLE _flat RENAME TO _raw")
        self.row_sql = f"_raw.{ROW_COLUMN}"
        return {row[0]: row[1] for row in self._sql("DESCRIBE _raw").fetchall()
                if row[0] != ROW_COLUMN}

    def _flatten(self, types: dict[str, str], report: FileLoadReport
                 ) -> tuple[dict[str, str], dict[str, str]]:
        """(columns to plan from, mapping to plan with): a vendor's export rewritten into the
        store's own fields, or the dotted paths the mapping and the known names reach into."""
        preset = (choose_preset(self.vendor_format, list(types), self.name)
                  if self.kind == "events" else None)
        if preset is None:
            return self._add_dotted_paths(types), self.mapping
        preset = with_mapping(preset, self.mapping, self.name, list(types))
        nested = NestedColumns(types, preset.key_values)
        self._refuse_empty_paths([p for p in self.mapping if nested.has(p)], nested, types)
        times = [p for p in preset.fields["timestamp"] if nested.has(p)]
        if self.vendor_format != "auto" and not any(self._filled(times, nested).values()):
            raise not_this_export(preset, self.name, f"no row has {' or '.join(times)}",
                                  "Load it without --format, so its shape is recognised")
        plan = flat_plan(preset, types, self.row_sql)
        self._sql("CREATE OR REPLACE TEMP TABLE _journey_links (alias VARCHAR, canonical "
                  "VARCHAR, ts_text VARCHAR)")
        if plan.links_sql:
            self._sql(f"INSERT INTO _journey_links {plan.links_sql}")
        if plan.traits_sql:
            self._sql(f"INSERT INTO _journey_traits SELECT *, {self.load_id} FROM "
                      f"({plan.traits_sql})")
        # From this file only: what the store already holds must not change how a row reads.
        self._sql("CREATE OR REPLACE TEMP TABLE _journey_aliases AS SELECT alias FROM "
                  "_journey_links")
        self._sql("CREATE OR REPLACE TEMP TABLE _journey_canonicals AS SELECT canonical FROM "
                  "_journey_links" + (f" UNION {plan.customers_sql}" if plan.customers_sql
                                      else ""))
        report.preset = preset.name
        report.identity_calls = self._sql(plan.identity_rows_sql).fetchone()[0]
        self.preset_sources = self._filled_sources(plan.sources, NestedColumns(
            types, preset.key_values))
        self.linked = plan.links_sql is not None
        return self._replace_raw(plan.flat_sql), {}

    def _filled_sources(self, sources: dict[str, list[str]], nested: NestedColumns
                        ) -> dict[str, str]:
        """field -> the paths it was read from that hold a value somewhere in the file."""
        candidates = [(f, p) for f, paths in sources.items() for p in paths
                      if nested.has(p.split(" ")[0])]
        if not candidates:
            return {}
        hits = self._sql("SELECT " + ", ".join(
            f"bool_or({nested.text(p.split(' ')[0])} IS NOT NULL)" for _, p in candidates)
            + " FROM _raw").fetchone()
        used: dict[str, list[str]] = {}
        for (f, p), hit in zip(candidates, hits, strict=True):
            if hit:
                used.setdefault(f, []).append(p)
        return {f: " | ".join(p) for f, p in used.items()}

    def _filled(self, paths: list[str], nested: NestedColumns) -> dict[str, bool]:
        if not paths:
            return {}
        hits = one(self.con, "SELECT " + ", ".join(
            f"bool_or({nested.text(p)} IS NOT NULL)" for p in paths) + " FROM _raw")
        return dict(zip(paths, (bool(h) for h in hits), strict=True))

    def _refuse_empty_paths(self, paths: list[str], nested: NestedColumns,
                            types: dict[str, str], filled: dict[str, bool] | None = None) -> None:
        """A mapped path that no row fills is a typo, not a column of empty cells."""
        filled = filled if filled is not None else self._filled(
            [p for p in paths if p not in types], nested)
        for path in paths:
            if path in filled and not filled[path]:
                raise InputFileError(self.name, f"the column mapping names '{path}', which no "
                                                "row of the file has",
                                     hint=f"Top-level columns: {', '.join(types)}")

    def _add_dotted_paths(self, types: dict[str, str]) -> dict[str, str]:
        nested = NestedColumns(types)
        mapped = [s for s in self.mapping if s not in types and nested.has(s)]
        known = [a for a in nested_candidates(self.kind, list(types), set(self.mapping.values()))
                 if a not in mapped and nested.has(a)]
        wanted: list[str] = []
        if mapped or known:  # only the paths the file really fills
            filled = self._filled(mapped + known, nested)
            self._refuse_empty_paths(mapped, nested, types, filled)
            wanted = [p for p in mapped + known if filled[p]]
        if not wanted:
            return types
        self.synthetic = set(wanted)
        paths = ", ".join(f"{nested.json(p)} AS {cells.quote_ident(p)}" for p in wanted)
        return self._replace_raw(f"SELECT *, {paths}, {self.row_sql} AS {ROW_COLUMN} FROM _raw")

