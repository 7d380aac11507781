"""Grading reports on disk: a table and its curves beside it, written atomically; where a checkpoint's shipped
report lives."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from lab.grading.runner import GradeReport
from model import locations
from model.parallel import write_output


def curves_path(table_path: Path) -> Path:
    """Where the curves of a report live: beside its table."""
    return table_path.with_name(f"{table_path.stem}_curves.csv")


def save_report(report: GradeReport, path: Path) -> None:
    """The table and its curves, each written atomically; under torchrun by rank 0 only (every rank holds the whole
    report)."""
    write_output(path, report.table.to_csv(index=False).encode())
    write_output(curves_path(path), report.curves.to_csv(index=False).encode())


def load_table(path: Path) -> pd.DataFrame:
    """A saved report's table alone (what the verdicts need), without its curves."""
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"flag": str})
    table["flag"] = table["flag"].fillna("")
    return table


def load_report(path: Path) -> GradeReport:
    return GradeReport(load_table(path), pd.read_csv(curves_path(path)))


def results_path(checkpoint_name: str) -> Path:
    """Where the precomputed report of a checkpoint is shipped (``runs/x`` names become ``runs_x``)."""
    return locations.results() / "grading" / f"{checkpoint_name.replace('/', '_')}.csv"
