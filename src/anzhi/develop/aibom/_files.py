"""The ``file`` components: every regular file of the model, its SHA-256, size, format and scan verdict.

Files are listed without following directory links (no loops), hashed in fixed-size chunks (bounded memory),
and matched to the scanner's results by path. Archive members the scanner looked into become nested
components of their file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.component import Component, ComponentType

from anzhi.develop.aibom._metadata import metadata_properties
from anzhi.develop.models import FileResult, ModelFormat, Reason, Verdict

__all__ = [
    "MAX_FILES",
    "MAX_MEMBERS",
    "MAX_REASONS",
    "ModelFile",
    "ResultIndex",
    "file_component",
    "hub_repo",
    "is_inside",
    "list_files",
    "model_home",
    "scan_properties",
    "sha256_of",
]

MAX_FILES = 10_000  # files listed from one folder; the rest are counted, not listed
MAX_MEMBERS = 256  # archive members listed under one file
MAX_REASONS = 5  # reasons per file kept as properties (the worst first)
SKIPPED_DIRS = frozenset({".git", ".cache", "__MACOSX"})  # VCS and download-cache bookkeeping, not the model
_CHUNK = 1024 * 1024
_VERDICT_RANK = {Verdict.DANGEROUS: 0, Verdict.INVALID: 1, Verdict.REVIEW: 2, Verdict.CLEAN: 3}


@dataclass(frozen=True)
class ModelFile:
    """One file of the model: its path relative to the model root (POSIX) and on disk.

    ``link`` is where a symbolic link points (as written in the link); ``followed`` is false for a link that
    leads out of the model's home (see :func:`model_home`), whose target is then neither read nor hashed.
    """

    relpath: str
    path: Path
    link: str | None = None
    followed: bool = True


def hub_repo(folder: Path) -> Path | None:
    """The repository folder of a Hugging Face cache snapshot (``models--org--name/snapshots/<revision>``)."""
    resolved = folder.resolve()
    repo = resolved.parent.parent
    if resolved.parent.name == "snapshots" and repo.name.startswith("models--"):
        return repo
    return None


def model_home(root: Path) -> Path:
    """The folder that links may point into.

    That is the model folder, or for a Hugging Face cache snapshot the repository folder that holds ``blobs/``.
    """
    folder = root if root.is_dir() else root.parent
    return hub_repo(folder) or folder.resolve()


def is_inside(path: Path, home: Path) -> bool:
    """Whether ``path``, with links resolved, lies inside ``home``."""
    try:
        return path.resolve().is_relative_to(home)
    except (OSError, RuntimeError):  # a link loop
        return False


def list_files(root: Path) -> tuple[list[ModelFile], int]:
    """The files under ``root`` (or ``root`` itself), sorted, and how many were left out past the cap.

    Links to files inside the model's home are followed (a Hugging Face cache snapshot is made of them); links
    that lead elsewhere are listed but not read; links to folders and broken links are skipped.
    """
    if root.is_file():  # a file the caller named is read even when it is a link, as the scanner does
        return [ModelFile(root.name, root)], 0
    home = model_home(root)
    found: list[ModelFile] = []
    left_out = 0
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        base = Path(folder)
        for filename in sorted(filenames):
            path = base / filename
            if not path.is_file():  # a broken link, a link to a folder, a socket, a FIFO
                continue
            if len(found) >= MAX_FILES:
                left_out += 1
                continue
            relpath = path.relative_to(root).as_posix()
            if path.is_symlink():
                link = str(path.readlink())[:300]
                found.append(ModelFile(relpath, path, link=link, followed=is_inside(path, home)))
            else:
                found.append(ModelFile(relpath, path))
    return found, left_out


def sha256_of(path: Path) -> str:
    """The file's SHA-256 as lowercase hex, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ResultIndex:
    """The scanner's per-file results, found by path (as given, absolute, or with links resolved)."""

    def __init__(self, results: Iterable[FileResult]) -> None:
        self._by_path: dict[Path, FileResult] = {}
        for result in results:
            self._add(result)

    def _add(self, result: FileResult) -> None:
        path = Path(result.path)
        if result.format is not ModelFormat.DIRECTORY and path.is_file():
            for key in (path.absolute(), path.resolve()):
                self._by_path.setdefault(key, result)
            return
        for member in result.members:  # a folder result: its members are the files
            self._add(member)

    def get(self, path: Path) -> FileResult | None:
        """The result for a file on disk, if the scanner reported one."""
        return self._by_path.get(path.absolute()) or self._by_path.get(path.resolve())

    def __len__(self) -> int:
        return len(self._by_path)


def _reason_text(reason: Reason) -> str:
    where = f" @ {reason.location}" if reason.location else ""
    text = f"{reason.rule_id} ({reason.severity.value}/{reason.confidence.value}): {reason.message}{where}"
    return text if len(text) <= 300 else text[:299] + "…"


def scan_properties(result: FileResult) -> list[Property]:
    """Format, verdict and the worst reasons of one scanned file (or member)."""
    props = [Property(name="anzhi:format", value=result.format.value)]
    props.append(Property(name="anzhi:verdict", value=result.verdict.value))
    worst = sorted(result.reasons, key=lambda r: _VERDICT_RANK[r.verdict])[:MAX_REASONS]
    for reason in worst:
        props.append(Property(name="anzhi:rule", value=reason.rule_id))
        props.append(Property(name="anzhi:reason", value=_reason_text(reason)))
    if len(result.reasons) > MAX_REASONS:
        props.append(Property(name="anzhi:reasons-omitted", value=str(len(result.reasons) - MAX_REASONS)))
    props.extend(Property(name=name, value=value) for name, value in metadata_properties(result.metadata))
    return props


class _Members:
    """Lists archive members as nested components, at most :data:`MAX_MEMBERS` per file, with unique refs.

    An archive may name two members alike (a known way to hide one); the second gets ``#2`` on its ref.
    """

    def __init__(self) -> None:
        self.budget = MAX_MEMBERS
        self.refs: set[str] = set()

    def components(self, parent: FileResult, relpath: str) -> list[Component]:
        out: list[Component] = []
        for member in parent.members:
            if self.budget <= 0:
                break
            self.budget -= 1
            inner = member.path[len(parent.path) :] if member.path.startswith(parent.path) else "!" + member.path
            name = relpath + inner
            ref, n = f"file:{name}", 1
            while ref in self.refs:
                n += 1
                ref = f"file:{name}#{n}"
            self.refs.add(ref)
            hashes = [HashType(alg=HashAlgorithm.SHA_256, content=member.sha256)] if member.sha256 else []
            props = [Property(name="anzhi:size", value=str(member.size)), *scan_properties(member)]
            nested = self.components(member, name)
            out.append(
                Component(
                    type=ComponentType.FILE, name=name, bom_ref=ref, hashes=hashes, properties=props, components=nested
                )
            )
        return out


def file_component(item: ModelFile, result: FileResult | None) -> Component:
    """The ``file`` component of one model file; hashed here unless the scanner already did.

    Raises:
        OSError: the file cannot be read.
    """
    props: list[Property] = []
    hashes: list[HashType] = []
    if item.link is not None:
        props.append(Property(name="anzhi:symlink", value=item.link))
    if item.followed:
        digest = result.sha256 if result is not None and result.sha256 else sha256_of(item.path)
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=digest))
        props.append(Property(name="anzhi:size", value=str(item.path.stat().st_size)))
    else:
        props.append(Property(name="anzhi:note", value="link out of the model folder: target not read"))
    members: list[Component] = []
    if result is not None:
        props.extend(scan_properties(result))
        members = _Members().components(result, item.relpath)
        total = len(result.walk()) - 1
        if total > MAX_MEMBERS:
            props.append(Property(name="anzhi:members-omitted", value=str(total - MAX_MEMBERS)))
    return Component(
        type=ComponentType.FILE,
        name=item.relpath,
        bom_ref=f"file:{item.relpath}",
        hashes=hashes,
        properties=props,
        components=members,
    )
