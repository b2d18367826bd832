"""Scanning paths: walk them, detect each file's format by content, run its analyser, and never give up on a file.

Every file reached gets a :class:`FileResult`. A file that cannot be opened gets MODEL-490, content of no known
format MODEL-491, a symbolic link inside a walked folder MODEL-494 (links are not followed unless asked; named
paths are). An analyser that raises is reported as MODEL-492 with the exception type and the scan goes on.
Archives are opened through their analysers, which hand every member back through
:attr:`ScanContext.scan_member`; each level of nesting counts against ``max_depth`` (MODEL-484 beyond it). Files
are scanned in parallel in worker processes when there is enough work to pay for starting them, and the results
come back sorted by path whatever order the workers finish in.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Literal

from anzhi import __version__
from anzhi.develop.models._detect import CONTAINER_FORMATS, detect_format
from anzhi.develop.models._registry import ANALYZERS, ScanContext
from anzhi.develop.models._result import FileResult, ModelFormat, ScanReport
from anzhi.develop.models._rules import MALFORMED, SYMLINK, UNKNOWN_FORMAT, UNREADABLE
from anzhi.develop.models._source import BytesSource, FileSource, ScanLimits, Source
from anzhi.develop.models._zipread import ZIP_NESTING
from anzhi.errors import InputError

__all__ = ["default_jobs", "scan_bytes", "scan_file", "scan_paths"]

#: Rough cost of scanning, used to decide whether worker processes pay for their start-up: about 10 ms for forked
#: workers, half a second for a fork server (it starts an interpreter and imports the scanner).
_SECONDS_PER_FILE = 0.0005
_BYTES_PER_SECOND = 300 * 1024 * 1024
_POOL_WORTH_SECONDS = {"fork": 0.1, "forkserver": 1.0, "spawn": 2.0}
_HASH_CHUNK = 1024 * 1024
_SAVEDMODEL_PB = "saved_model.pb"

_Kind = Literal["file", "symlink", "special", "unreadable", "unreadable-dir"]


@dataclass(frozen=True)
class _Unit:
    """One thing found while walking the paths: a file to scan, or a reason not to read it."""

    display: str
    path: str
    kind: _Kind
    size: int = 0
    forced: ModelFormat | None = None
    quiet_unknown: bool = False  # a SavedModel's variable shard: content of no model format is expected there
    note: str = ""


def default_jobs() -> int:
    """Worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# -- scanning one source -----------------------------------------------------------------------------------------


def _sha256(source: Source) -> str:
    digest = hashlib.sha256()
    if isinstance(source, BytesSource):
        digest.update(source.data)
        return digest.hexdigest()
    with source.open() as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _member_scanner(limits: ScanLimits, deadline: float, depth: int) -> Callable[[Source, ModelFormat | None],
                                                                               FileResult]:
    def scan_member(source: Source, hint: ModelFormat | None) -> FileResult:
        started = time.perf_counter()
        result = _analyse(source, limits=limits, deadline=deadline, depth=depth, hint=hint, top=False)
        try:
            result.sha256 = _sha256(source)
        except OSError:
            result.sha256 = None
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    return scan_member


_TEXT_PROBE = 64 * 1024


def _is_text(source: Source) -> bool:
    """True when the start of the file is UTF-8 text without NUL bytes (a companion file, not a model)."""
    head = source.read_at(0, _TEXT_PROBE)
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the probe's end is still text.
        return exc.start >= len(head) - 3 and len(head) == _TEXT_PROBE
    return True


def _analyse(source: Source, *, limits: ScanLimits, deadline: float, depth: int, hint: ModelFormat | None = None,
             forced: ModelFormat | None = None, top: bool = True, quiet_unknown: bool = False) -> FileResult:
    """Detect and analyse one source; every failure becomes a reason on its result."""
    result = FileResult(path=source.name, format=ModelFormat.UNKNOWN, size=source.size)
    try:
        fmt = forced or detect_format(source)
        if fmt is ModelFormat.UNKNOWN and hint is not None:
            fmt = hint
        result.format = fmt
        if fmt is ModelFormat.UNKNOWN:
            if quiet_unknown or not top:
                result.metadata["note"] = "content of no model format; not analysed"
            elif source.size == 0:
                result.reasons.append(UNKNOWN_FORMAT.reason("empty file"))
            elif _is_text(source):
                # README.md, config.json, tokenizer files: companions of a model, loadable by no model loader.
                result.metadata["note"] = "text file (UTF-8, no model format); nothing to analyse"
                result.metadata["text"] = True
            else:
                magic = source.read_at(0, 8).hex()
                result.reasons.append(UNKNOWN_FORMAT.reason(f"content matches no model format (starts {magic})",
                                                            detail={"magic": magic}))
            return result
        if fmt in CONTAINER_FORMATS and depth + 1 > limits.max_depth:
            result.reasons.append(ZIP_NESTING.reason(
                f"{fmt.value} archive at nesting depth {depth} not opened (max depth {limits.max_depth})",
                detail={"depth": depth}))
            return result
        analyser = ANALYZERS.get(fmt)
        if analyser is None:
            result.reasons.append(UNKNOWN_FORMAT.reason(f"{fmt.value} detected, but no analyser is installed for it"))
            return result
        context = ScanContext(limits=limits, depth=depth, deadline=deadline,
                              scan_member=_member_scanner(limits, deadline, depth + 1))
        analysis = analyser(source, context)
        result.reasons.extend(analysis.reasons)
        result.members.extend(analysis.members)
        result.metadata.update(analysis.metadata)
        if analysis.format is not None:
            result.format = analysis.format
    except OSError as exc:
        result.reasons.append(UNREADABLE.reason(f"read failed: {exc.strerror or exc}",
                                                detail={"errno": exc.errno or 0}))
    except Exception as exc:  # one bad file must never stop the scan; it is reported
        result.reasons.append(MALFORMED.reason(f"analyser error {type(exc).__name__}: {str(exc)[:200]}",
                                               detail={"exception": type(exc).__name__}))
    return result


def _scan_source(source: Source, limits: ScanLimits, *, forced: ModelFormat | None = None,
                 quiet_unknown: bool = False) -> FileResult:
    """A top-level source: hash, detect, analyse, time it."""
    started = time.perf_counter()
    deadline = time.monotonic() + limits.seconds_per_file
    try:
        digest = _sha256(source)
    except OSError as exc:
        result = FileResult(path=source.name, format=ModelFormat.UNKNOWN, size=source.size)
        result.reasons.append(UNREADABLE.reason(f"cannot read: {exc.strerror or exc}",
                                                detail={"errno": exc.errno or 0}))
    else:
        result = _analyse(source, limits=limits, deadline=deadline, depth=0, forced=forced,
                          quiet_unknown=quiet_unknown)
        result.sha256 = digest
    result.elapsed_ms = (time.perf_counter() - started) * 1000
    return result


def _unreadable(display: str, message: str, *, fmt: ModelFormat = ModelFormat.UNKNOWN,
                errno: int | None = None) -> FileResult:
    detail = {"errno": errno} if errno else {}
    return FileResult(path=display, format=fmt, size=0, reasons=[UNREADABLE.reason(message, detail=detail)])


def _scan_unit(unit: _Unit, limits: ScanLimits) -> FileResult:
    """The result for one walked unit (runs in a worker process or in-process)."""
    if unit.kind == "symlink":
        return FileResult(path=unit.display, format=ModelFormat.UNKNOWN, size=0,
                          reasons=[SYMLINK.reason(unit.note, detail={"target": _link_target(unit.path)})])
    if unit.kind == "special":
        return _unreadable(unit.display, unit.note)
    if unit.kind in ("unreadable", "unreadable-dir"):
        fmt = ModelFormat.DIRECTORY if unit.kind == "unreadable-dir" else ModelFormat.UNKNOWN
        return _unreadable(unit.display, unit.note, fmt=fmt)
    started = time.perf_counter()
    try:
        source = FileSource(Path(unit.path), name=unit.display)
    except OSError as exc:
        result = _unreadable(unit.display, f"cannot open: {exc.strerror or exc}", errno=exc.errno)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result
    return _scan_source(source, limits, forced=unit.forced, quiet_unknown=unit.quiet_unknown)


def _scan_chunk(units: list[_Unit], limits: ScanLimits) -> list[FileResult]:
    return [_scan_unit(unit, limits) for unit in units]


def _scan_chunk_in_worker(units: list[_Unit], limits: ScanLimits) -> list[FileResult]:
    """The worker processes' entry point."""
    return _scan_chunk(units, limits)


def _link_target(path: str) -> str:
    try:
        return str(Path(path).readlink())[:300]
    except OSError:
        return ""


# -- walking paths -----------------------------------------------------------------------------------------------


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class _Walker:
    """Collects units from the named paths; remembers directories seen so links cannot make it loop."""

    def __init__(self, follow_symlinks: bool) -> None:
        self.follow = follow_symlinks
        self.units: dict[str, _Unit] = {}
        self.visited: set[tuple[int, int]] = set()

    def add(self, unit: _Unit) -> None:
        self.units.setdefault(unit.display, unit)

    def named(self, raw: str | os.PathLike[str]) -> None:
        """A path the caller named: followed if it is a link (the caller asked for it)."""
        display = os.fspath(raw)
        try:
            info = Path(display).stat()
        except OSError as exc:
            broken = Path(display).is_symlink()
            note = "broken symbolic link" if broken else f"cannot stat: {exc.strerror or exc}"
            self.add(_Unit(display, display, "unreadable", note=note))
            return
        if stat.S_ISDIR(info.st_mode):
            self.visited.add((info.st_dev, info.st_ino))
            self.directory(display, display, in_variables=False)
        elif stat.S_ISREG(info.st_mode):
            self.add(_Unit(display, display, "file", size=info.st_size))
        else:
            self.add(_Unit(display, display, "special", note=f"{_special_kind(info.st_mode)}; not read"))

    def directory(self, path: str, display: str, *, in_variables: bool) -> None:
        stack = [(path, display, in_variables)]
        while stack:
            current, shown, variables = stack.pop()
            try:
                with os.scandir(current) as iterator:
                    entries = sorted(iterator, key=lambda entry: entry.name)
            except OSError as exc:
                self.add(_Unit(shown, current, "unreadable-dir", note=f"cannot list folder: {exc.strerror or exc}"))
                continue
            savedmodel = any(e.name == _SAVEDMODEL_PB and e.is_file(follow_symlinks=False) for e in entries)
            for entry in reversed(entries):
                child = os.path.join(shown, entry.name)  # noqa: PTH118 - keeps the path as the caller spelt it
                self.entry(entry, child, savedmodel=savedmodel, variables=variables, stack=stack)

    def entry(self, entry: os.DirEntry[str], shown: str, *, savedmodel: bool, variables: bool,
              stack: list[tuple[str, str, bool]]) -> None:
        try:
            if entry.is_symlink() and not self.follow:
                self.add(_Unit(shown, entry.path, "symlink", note=f"symbolic link to {_link_target(entry.path)!r} "
                                                                  "not followed"))
                return
            if entry.is_dir(follow_symlinks=self.follow):
                info = entry.stat(follow_symlinks=self.follow)
                key = (info.st_dev, info.st_ino)
                if key in self.visited:
                    self.add(_Unit(shown, entry.path, "symlink", note="link leads back to a folder already scanned "
                                                                      "(a loop); not followed"))
                    return
                self.visited.add(key)
                stack.append((entry.path, shown, variables or (savedmodel and entry.name == "variables")))
                return
            if entry.is_file(follow_symlinks=self.follow):
                forced = ModelFormat.SAVEDMODEL if savedmodel and entry.name == _SAVEDMODEL_PB else None
                size = entry.stat(follow_symlinks=self.follow).st_size
                self.add(_Unit(shown, entry.path, "file", size=size, forced=forced, quiet_unknown=variables))
                return
            if entry.is_symlink():
                self.add(_Unit(shown, entry.path, "unreadable", note="broken symbolic link"))
                return
            mode = entry.stat(follow_symlinks=False).st_mode
            self.add(_Unit(shown, entry.path, "special", note=f"{_special_kind(mode)}; not read"))
        except OSError as exc:
            self.add(_Unit(shown, entry.path, "unreadable", note=f"cannot stat: {exc.strerror or exc}"))


def _missing(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    return [os.fspath(p) for p in paths if not os.path.lexists(p)]


# -- running units -----------------------------------------------------------------------------------------------


def _worth_a_pool(units: list[_Unit], jobs: int, method: str) -> bool:
    if jobs <= 1 or len(units) < 2:
        return False
    estimate = len(units) * _SECONDS_PER_FILE + sum(u.size for u in units) / _BYTES_PER_SECOND
    return estimate >= _POOL_WORTH_SECONDS.get(method, 2.0)


def _chunks(units: list[_Unit], jobs: int) -> list[list[_Unit]]:
    """Balanced groups: largest files first, dealt round-robin, so no worker gets all the big ones."""
    count = max(1, min(len(units), jobs * 4))
    bins: list[list[_Unit]] = [[] for _ in range(count)]
    for index, unit in enumerate(sorted(units, key=lambda u: u.size, reverse=True)):
        bins[index % count].append(unit)
    return [b for b in bins if b]


def _pool_context() -> BaseContext:
    """``fork`` where safe (POSIX, one thread: no lock can be held at the fork), else ``forkserver`` or ``spawn``.

    Forked workers start in milliseconds and need no re-import of the caller's main module; a process with
    threads (a server) gets a fork server instead, which is safe but costs an interpreter start.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["anzhi.develop.models"])
        return context
    return multiprocessing.get_context("spawn")  # pragma: no cover - Windows


def _run_pool(units: list[_Unit], limits: ScanLimits, jobs: int, context: BaseContext) -> list[FileResult]:
    chunks = _chunks(units, jobs)
    results: list[FileResult] = []
    retry: list[_Unit] = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=context) as pool:
        futures = {pool.submit(_scan_chunk_in_worker, chunk, limits): chunk for chunk in chunks}
        for future in as_completed(futures):
            try:
                results.extend(future.result())
            except Exception:  # a worker died (memory, signal): scan its files here
                retry.extend(futures[future])
    results.extend(_scan_unit(unit, limits) for unit in retry)
    return results


def scan_paths(paths: Iterable[str | os.PathLike[str]], *, limits: ScanLimits | None = None, jobs: int | None = None,
               follow_symlinks: bool = False) -> ScanReport:
    """Scan files, folders (recursively) and archives; every file reached gets a result, sorted by path.

    Args:
        paths: files or folders. A named symbolic link is followed; links met while walking a folder are
            reported (MODEL-494) and not followed unless ``follow_symlinks``, which still never loops.
        limits: per-file bounds (bytes, members, nesting depth, seconds).
        jobs: worker processes (default: the CPUs available). 1 scans in this process; small inputs are scanned
            in this process anyway, because starting workers would cost more than it saves.
        follow_symlinks: follow links inside folders too.

    Raises:
        InputError: a named path does not exist (nothing is scanned then).
    """
    limits = limits or ScanLimits()
    workers = jobs if jobs is not None else default_jobs()
    if workers < 1:
        raise InputError(f"jobs must be at least 1, not {workers}")
    named = list(paths)
    missing = _missing(named)
    if missing:
        raise InputError(f"no such file or folder: {', '.join(missing)}")
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    walker = _Walker(follow_symlinks)
    for path in named:
        walker.named(path)
    units = list(walker.units.values())
    files = [u for u in units if u.kind == "file"]
    others = [u for u in units if u.kind != "file"]
    context = _pool_context()
    if _worth_a_pool(files, workers, context.get_start_method()):
        results = _run_pool(files, limits, workers, context)
    else:
        results = _scan_chunk(files, limits)
    results.extend(_scan_unit(unit, limits) for unit in others)
    results.sort(key=lambda r: r.path)
    return ScanReport(results=results, started_at=started_at.isoformat(timespec="milliseconds"),
                      elapsed_s=time.perf_counter() - clock, scanner_version=__version__)


def scan_file(path: str | os.PathLike[str], *, limits: ScanLimits | None = None,
              format: ModelFormat | None = None) -> FileResult:
    """Scan one file in this process (a named link is followed); problems become reasons, never exceptions.

    ``format`` skips detection and analyses the file as that format.
    """
    limits = limits or ScanLimits()
    display = os.fspath(path)
    started = time.perf_counter()
    try:
        info = Path(display).stat()
        if not stat.S_ISREG(info.st_mode):
            return _unreadable(display, f"{_special_kind(info.st_mode)}; not read")
        source = FileSource(Path(display))
    except OSError as exc:
        result = _unreadable(display, f"cannot open: {exc.strerror or exc}", errno=exc.errno)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result
    return _scan_source(source, limits, forced=format)


def scan_bytes(data: bytes, *, name: str = "<bytes>", limits: ScanLimits | None = None,
               format: ModelFormat | None = None) -> FileResult:
    """Scan bytes already in memory as if they were a file called ``name``."""
    return _scan_source(BytesSource(name, data), limits or ScanLimits(), forced=format)
