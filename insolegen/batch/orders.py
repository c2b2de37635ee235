"""A batch's orders checked one by one: a job to make, or a failed result saying why.

:class:`Validator` turns rows of an orders file (:mod:`insolegen.batch.orders_file`)
into :class:`Job` s with the fingerprint of their input, or into a failed
:class:`OrderResult` (a manifest line) with a countable ``reason``. It keeps
only what it needs to find repeated ids, so it can run over a file of any
length; validating the same rows again gives the same jobs and failures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from insolegen import __version__
from insolegen.core.errors import (InputError, InsolegenError, OutputError, ScanError, one_line,
                                   shown)
from insolegen.output.files import safe_id
from insolegen.pipeline.order import MEASUREMENT_FIELDS, Order, order_from_mapping
from insolegen.batch.orders_file import Row
from insolegen.core.numbers import parse_number

log = logging.getLogger("insolegen.batch.run")

MANIFEST_NAME = "manifest.jsonl"
RESERVED_IDS = frozenset({MANIFEST_NAME})  # names in DIR an order folder must not take
STATUSES = ("done", "failed", "skipped")
_FIELD = re.compile(r"^(?:--set |set\.)?'?([A-Za-z_][\w.]*(?: / [A-Za-z_]\w*)*)'?(?:\s*=|:)")


@dataclass(frozen=True)
class Job:
    """A validated order, ready for a worker, with the fingerprint of its input."""

    line: int
    order: Order
    fingerprint: str
    scan_sha256: str | None
    parameters_sha256: str

    @property
    def insoles(self) -> int:
        return len(self.order.sides)


@dataclass(frozen=True)
class OrderResult:
    """What happened to one order: one line of ``manifest.jsonl``.

    ``files`` are ``{"path", "sha256", "bytes"}`` with ``path`` relative to the
    batch folder; ``status`` is done, failed or skipped (``pending`` only in a
    dry run, never in the manifest).
    """

    order_id: str | None
    line: int | None
    status: str
    error: str | None = None
    reason: str | None = None
    files: tuple[dict, ...] = ()
    fingerprint: str | None = None
    scan_sha256: str | None = None
    insoles: int = 0
    timings: dict = field(default_factory=dict)
    worker: str | None = None
    finished_at: str | None = None
    note: str | None = None
    insolegen_version: str = __version__

    def __post_init__(self) -> None:
        # a message quotes values from the order: one line, cut to about 2,000 characters,
        # wherever it goes (manifest, summary, log)
        if isinstance(self.error, str):
            object.__setattr__(self, "error", one_line(self.error))

    def to_json(self) -> dict:
        """The manifest line as a dict."""
        data = dataclasses.asdict(self)
        data["files"] = list(self.files)
        return data

    @classmethod
    def from_json(cls, data: dict) -> OrderResult:
        """Read a manifest line back; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        kept["files"] = tuple(kept.get("files") or ())
        kept["timings"] = dict(kept.get("timings") or {})
        return cls(**kept)


class UnreadableRow(InputError):
    """A line of the orders file that is not an order at all."""


class DuplicateId(InputError):
    """An order id already used by an earlier line."""


class ScanChanged(InsolegenError):
    """A scan file that changed (or went) between validation and making."""


def now() -> str:
    """The time, UTC, to the second, for the manifest."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def shown_id(value: object) -> str | None:
    """An order id as a manifest line may show it (raw, cut to 200 characters)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:200]


def reason(exc: BaseException, validating: bool) -> str:
    """A short, countable category for a failure (the manifest's ``reason``)."""
    if isinstance(exc, OutputError):
        return "cannot write output"
    if isinstance(exc, ScanError) and not validating:
        return "unusable scan"
    if isinstance(exc, UnreadableRow):
        return "unreadable line"
    if isinstance(exc, DuplicateId):
        return "duplicate order_id"
    if isinstance(exc, ScanChanged):
        return "scan changed"
    if isinstance(exc, InputError):
        text = str(exc)
        if "unknown parameter" in text:
            return "invalid override"
        if "unknown order field" in text:
            return "invalid field"
        match = _FIELD.match(text)
        return f"invalid {match.group(1)}" if match else "invalid order"
    if isinstance(exc, InsolegenError):
        return "self-check failed" if str(exc).startswith("internal error") else "error"
    return "internal error"


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def scan_file(path: Path, shown_as: object) -> int:
    """The size of a scan file, checked with ``os.stat`` before it is opened: a regular,
    non-empty file within the scan size limit; ScanError (naming ``shown_as``) if not."""
    from insolegen.scan.load import MAX_SCAN_MB_ENV, max_scan_bytes
    where = f"scan = {shown(shown_as)}"
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    limit = max_scan_bytes()
    if not stat.S_ISREG(info.st_mode):
        raise ScanError(f"{where}: not a regular file; expected a scan file")
    if info.st_size == 0:
        raise ScanError(f"{where}: empty file (0 bytes)")
    if info.st_size > limit:
        raise ScanError(f"{where}: {info.st_size / 1e6:.1f} MB; accepted: at most "
                        f"{limit / 1e6:g} MB (set {MAX_SCAN_MB_ENV} to change)")
    return info.st_size


def read_scan_file(path: Path, shown_as: object) -> bytes:
    """A scan file's bytes, its size checked first (:func:`scan_file`) and the reading
    bounded by it (a file that grows meanwhile is refused)."""
    size = scan_file(path, shown_as)
    with open(path, "rb") as fh:
        data = fh.read(size + 1)
    if len(data) != size:
        raise ScanChanged(f"scan = {shown(shown_as)}: changed while it was read")
    return data


def scan_sha256(path: Path, shown_as: object) -> str:
    """SHA-256 of a scan file, its size checked before it is opened (:func:`scan_file`)
    and the reading bounded by it."""
    size = scan_file(path, shown_as)
    digest, left = hashlib.sha256(), size + 1
    with open(path, "rb") as fh:
        while left > 0 and (chunk := fh.read(min(1 << 20, left))):
            digest.update(chunk)
            left -= len(chunk)
    if left != 1:
        raise ScanChanged(f"scan = {shown(shown_as)}: changed while it was read")
    return digest.hexdigest()


def _canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=True).encode("ascii")


def parameters_sha256(parameters: Mapping) -> str:
    """Hash of a resolved prescription's parameters (profiles + overrides)."""
    return hashlib.sha256(_canonical(dict(parameters))).hexdigest()


def _number(value: object) -> object:
    """A validated number as a float, whatever type it came in (CSV text, JSON number)."""
    try:
        return parse_number(value, "value", "a number")
    except InputError:
        return value.strip().casefold() if isinstance(value, str) else value


def fingerprint(order: Order, scan_sha256: str | None, parameters: Mapping,
                outline_sha256: str | None = None) -> str:
    """The input fingerprint: the validated order, its scan's bytes, the parameters it
    resolves to and the insolegen version, hashed (a pressure map by its bytes too).

    Numbers count by value, not by how they were typed (``"265"`` in a CSV
    and ``265`` in JSON Lines are the same order). The scan enters by its
    SHA-256 and file name, not its folder, so moving a batch's folders does
    not make done orders look new.
    """
    data = order.to_json()
    if data.get("measurements"):
        data["measurements"] = {k: _number(v) if k in (*MEASUREMENT_FIELDS, "shoe_size") else v
                                for k, v in data["measurements"].items()}
    data["overrides"] = {k: _number(v) for k, v in data["overrides"].items()}
    if order.scan is not None:
        data["scan"] = {"name": Path(order.scan).name, "sha256": scan_sha256}
    if "outline" in order.options:  # an outline file enters like a scan: name and bytes
        outline = dict(data["options"]["outline"])
        outline["path"] = {"name": Path(outline["path"]).name, "sha256": outline_sha256}
        data["options"] = {**data["options"], "outline": outline}
    if order.pressure is not None:  # a pressure map enters as the scan does
        data["pressure"] = {"name": Path(order.pressure).name,
                            "sha256": sha256_file(Path(order.pressure))}
    blob = {"insolegen_version": __version__, "order": data, "parameters": dict(parameters)}
    return "sha256:" + hashlib.sha256(_canonical(blob)).hexdigest()


class Validator:
    """Checks rows one at a time, remembering ids (to refuse repeats) and scan hashes.

    Ids are compared without regard to case (``A1`` and ``a1`` would share a
    folder on a case-insensitive disk); a repeated id is an error for every
    row after the first. Relative scan paths resolve against ``base_dir``;
    with ``scan_root``, a scan whose real path (symlinks resolved) is outside
    it is refused.
    """

    def __init__(self, base_dir: Path | None, source: str = "orders",
                 scan_root: Path | None = None, quiet: bool = False,
                 defaults: Mapping | None = None) -> None:
        self.base_dir, self.source, self.quiet = base_dir, source, quiet
        self.defaults = dict(defaults or {})
        self.root = Path(os.path.realpath(scan_root)) if scan_root is not None else None
        self.first_line: dict[str, int] = {}  # id (case folded): its first line
        self.spelled: dict[str, str] = {}     # id (case folded): as given, where it differs
        self.scan_hashes: dict[str, str] = {}

    def check(self, row: Row) -> Job | OrderResult:
        """The row's job, or its failed result (logged unless quiet)."""
        raw_id = row.fields.get("order_id")
        try:
            return self._job(row)
        except Exception as exc:  # noqa: BLE001 - one bad order fails alone, whatever it is
            message = one_line(str(exc) if isinstance(exc, InsolegenError) else
                               f"internal error: {type(exc).__name__}: {exc}")
            if not isinstance(exc, InsolegenError):
                log.debug("validating line %d", row.line, exc_info=True)
            if not self.quiet:
                log.warning("%s line %d: invalid order: %s", self.source, row.line, message)
            return OrderResult(shown_id(raw_id), row.line, "failed", message,
                               reason(exc, validating=True), finished_at=now())

    def _job(self, row: Row) -> Job:
        from insolegen.prescription.profiles import prescribe

        if row.error:
            raise UnreadableRow(row.error)
        order_id = safe_id(row.fields.get("order_id"))
        key = order_id.casefold()
        if key in RESERVED_IDS:
            raise InputError(f"order_id = {order_id!r}: reserved for the batch's own files; "
                             "choose another id")
        if key in self.first_line and self.first_line[key] != row.line:
            raise DuplicateId(f"order_id = {order_id!r}: duplicate of the order on line "
                              f"{self.first_line[key]}")
        self.first_line[key] = row.line
        if key != order_id:
            self.spelled[key] = order_id
        pressure = row.fields.get("pressure")
        if self.root is not None and isinstance(pressure, str) and pressure.strip():
            path = Path(pressure.strip())
            real = Path(os.path.realpath((self.base_dir or Path.cwd()) / path))
            if not real.is_relative_to(self.root):  # refused before the file is opened
                raise InputError(f"pressure = {shown(pressure)}: outside the scan root "
                                 f"'{self.root}' (it is {shown(str(real))}); only files "
                                 "under the root are read")
        fields = row.fields
        if self.defaults:  # a field an order leaves blank takes the batch's default
            fields = {**fields, **{k: v for k, v in self.defaults.items()
                                   if fields.get(k) is None or not str(fields[k]).strip()}}
        shoe = str(fields.get("shoe") or "").strip()
        if self.root is not None and Path(shoe).suffix.lower() in (".csv", ".toml"):
            real = Path(os.path.realpath((self.base_dir or Path.cwd()) / shoe))
            if not real.is_relative_to(self.root):  # a shoe file is read like a scan
                raise InputError(f"shoe = {shown(shoe)}: outside the scan root "
                                 f"'{self.root}'; only files under the root are read")
        order = order_from_mapping(fields, self.base_dir)
        scan_sha = None
        outline = order.options.get("outline", {}).get("path")
        if outline is not None and self.root is not None:
            real = Path(os.path.realpath(outline))
            if not real.is_relative_to(self.root):
                raise InputError(f"outline = {shown(row.fields.get('outline'))}: outside the "
                                 f"scan root '{self.root}' (it is {shown(str(real))}); only "
                                 "files under the root are read")
        outline_sha = None
        if outline is not None:
            try:
                outline_sha = sha256_file(Path(outline))
            except OSError as exc:
                raise InputError(f"outline = {shown(outline)}: cannot be read "
                                 f"({exc.strerror or exc})") from None
        if order.scan is not None:
            if self.root is not None:
                real = Path(os.path.realpath(order.scan))
                if not real.is_relative_to(self.root):
                    raise InputError(f"scan = {shown(row.fields.get('scan'))}: outside the scan "
                                     f"root '{self.root}' (it is {shown(str(real))}); only "
                                     "scans under the root are read")
            if order.scan not in self.scan_hashes:
                try:
                    self.scan_hashes[order.scan] = scan_sha256(Path(order.scan), order.scan)
                except ScanChanged as exc:
                    raise ScanError(str(exc)) from None
                except OSError as exc:
                    raise InputError(f"scan = {shown(order.scan)}: cannot be read "
                                     f"({exc.strerror or exc})") from None
            scan_sha = self.scan_hashes[order.scan]
        params = prescribe(order.conditions, order.overrides, order.base).parameters
        return Job(row.line, order, fingerprint(order, scan_sha, params, outline_sha), scan_sha,
                   parameters_sha256(params))


def validate(rows: Iterable[Row], base_dir: Path | None, source: str = "orders",
             scan_root: Path | None = None) -> tuple[list[Job], list[OrderResult]]:
    """Check every row; return the jobs to make and a failed result per invalid row
    (see :class:`Validator`)."""
    validator = Validator(base_dir, source, scan_root)
    jobs: list[Job] = []
    failures: list[OrderResult] = []
    for row in rows:
        outcome = validator.check(row)
        (jobs if isinstance(outcome, Job) else failures).append(outcome)
    return jobs, failures
