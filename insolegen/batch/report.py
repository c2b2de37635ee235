"""How a batch went: progress as orders finish, running counts, and the result.

:class:`Tally` keeps counts and the first failures only, so memory does not
grow with the number of orders; :class:`BatchResult` is what
:func:`insolegen.batch.run.run_batch` returns, with its summary and exit status.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from insolegen.batch.orders import MANIFEST_NAME, STATUSES, OrderResult

log = logging.getLogger("insolegen.batch.run")

SHOWN_FAILURES = 20


# ---------------------------------------------------------------- progress


class _LogProgress:
    """One plain log line per order (for logs and pipes)."""

    def __init__(self, total: int) -> None:
        self.total, self.count = total, 0

    def advance(self, result: OrderResult, quiet: bool = False) -> None:
        self.count += 1
        if quiet:  # invalid ones were logged at validation; skipped ones are counted at the end
            return
        if result.status == "failed":
            log.warning("[%d/%d] %s failed (line %s): %s", self.count, self.total,
                        result.order_id, result.line, result.error)
        else:
            log.info("[%d/%d] %s %s", self.count, self.total, result.order_id, result.status)

    def close(self) -> None:
        pass


class _RichProgress:
    """A progress bar on the terminal (stderr)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.counts: Counter = Counter()
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task("batch", total=total)
        self.bar.start()

    def advance(self, result: OrderResult, quiet: bool = False) -> None:
        self.counts[result.status] += 1
        text = ", ".join(f"{self.counts[s]} {s}" for s in STATUSES if self.counts[s])
        self.bar.update(self.task, advance=1, description=f"batch: {text}")

    def close(self) -> None:
        self.bar.stop()


# ---------------------------------------------------------------- results


@dataclass
class Tally:
    """Running counts of a batch's results, and its first failures (in the order met)."""

    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    first_failures: list[OrderResult] = field(default_factory=list)
    insoles_made: int = 0

    def add(self, result: OrderResult) -> None:
        self.statuses[result.status] += 1
        if result.status == "failed":
            self.reasons[result.reason or "unknown"] += 1
            if len(self.first_failures) < SHOWN_FAILURES:
                self.first_failures.append(result)
        elif result.status == "done":
            self.insoles_made += result.insoles


@dataclass(frozen=True)
class BatchResult:
    """How the batch went; every order's result (in file order) unless not kept."""

    orders: tuple[OrderResult, ...]
    out_dir: Path
    elapsed_s: float
    backend: str
    source: str = "orders"
    dry_run: bool = False
    tally: Tally | None = None

    def __post_init__(self) -> None:
        if self.tally is None:
            tally = Tally()
            for result in self.orders:
                tally.add(result)
            object.__setattr__(self, "tally", tally)

    @property
    def manifest(self) -> Path:
        return self.out_dir / MANIFEST_NAME

    @property
    def total(self) -> int:
        return sum(self.tally.statuses.values())

    @property
    def counts(self) -> dict[str, int]:
        """Orders by status: done, failed, skipped (and pending in a dry run)."""
        c = self.tally.statuses
        return {s: c[s] for s in (*STATUSES, "pending") if c[s] or s in STATUSES}

    @property
    def failures_by_reason(self) -> dict[str, int]:
        return dict(self.tally.reasons.most_common())

    @property
    def insoles_made(self) -> int:
        return self.tally.insoles_made

    @property
    def insoles_per_s(self) -> float:
        return self.insoles_made / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when no order failed, 3 when some did."""
        return 3 if self.tally.statuses["failed"] else 0

    def summary(self) -> str:
        """A few lines for a person: counts, throughput, failures by reason."""
        c = self.tally.statuses
        if self.dry_run:
            counts = f"{c['pending']} to make, {c['skipped']} to skip, {c['failed']} failed"
        else:
            counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        lines = [f"{'dry run: ' if self.dry_run else ''}{self.total} orders from "
                 f"{self.source}: {counts}"]
        if not self.dry_run and self.insoles_made:
            lines.append(f"{self.insoles_made} insoles in {self.elapsed_s:.1f} s: "
                         f"{self.insoles_per_s:.1f} insoles/s ({self.backend})")
        elif not self.dry_run:
            lines.append(f"nothing to make; {self.elapsed_s:.1f} s")
        if self.failures_by_reason:
            lines.append("failures by reason:")
            lines += [f"  {n:5d}  {r}" for r, n in self.failures_by_reason.items()]
            failed = sorted(self.tally.first_failures, key=lambda r: r.line or 0)
            lines.append("failed orders:")
            lines += [f"  line {r.line}: {r.error}" for r in failed]
            if c["failed"] > len(failed):
                lines.append(f"  ... and {c['failed'] - len(failed)} more"
                             + ("" if self.dry_run else " (see the manifest)"))
        if not self.dry_run:
            lines.append(f"manifest: {self.manifest}")
        return "\n".join(lines)
