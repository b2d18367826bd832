"""7z archives: opened with py7zr (pure Python; nothing is written to disk), members scanned like any file.

Model files travel in 7z too, and a scanner that cannot look inside one waves its payload through. Member names
and sizes are checked before anything is decompressed (zip-slip names, links, declared sizes and counts against
the limits); members are decompressed into memory, each capped at ``max_member_bytes``.
"""

from __future__ import annotations

from typing import Any, cast

from anzhi.develop.models._archive import _climbs_out
from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import ModelFormat
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED
from anzhi.develop.models._source import BytesSource, Source
from anzhi.develop.models._zipread import ZIP_BOMB, ZIP_ENCRYPTED, ZIP_LINK, ZIP_TRAVERSAL

__all__ = ["SEVEN_ZIP_MAGIC", "analyse_7z", "looks_like_7z"]

SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"


def looks_like_7z(head: bytes) -> bool:
    """The 7z signature."""
    return head.startswith(SEVEN_ZIP_MAGIC)


@analyzer(ModelFormat.SEVEN_ZIP)
def analyse_7z(source: Source, ctx: ScanContext) -> Analysis:
    """Check a 7z archive's member list, then scan each member's content."""
    import py7zr  # imported on use: most scans never meet a 7z
    from py7zr.exceptions import ArchiveError, Bad7zFile, UnsupportedCompressionMethodError
    from py7zr.io import BytesIOFactory

    analysis = Analysis()
    limits = ctx.limits
    failures: tuple[type[BaseException], ...] = (
        Bad7zFile, ArchiveError, UnsupportedCompressionMethodError, OSError, ValueError, EOFError, KeyError,
        IndexError, TypeError, MemoryError, LookupError,
    )
    stream = source.open()
    try:
        try:
            archive = py7zr.SevenZipFile(stream, mode="r")
        except failures as exc:
            analysis.reasons.append(MALFORMED.reason(f"not a readable 7z archive: {type(exc).__name__}: {exc}"))
            return analysis
        with archive:
            if archive.needs_password():
                analysis.reasons.append(ZIP_ENCRYPTED.reason("the 7z archive is encrypted; its content is unchecked"))
                return analysis
            infos: list[Any] = list(archive.list())
            wanted = _check_members(infos, ctx, analysis)
            if not wanted:
                return analysis
            factory = BytesIOFactory(limits.max_member_bytes + 1)
            try:
                archive.extract(targets=wanted, factory=factory)
            except failures as exc:
                analysis.reasons.append(MALFORMED.reason(f"7z members cannot be decompressed: {exc}"))
                return analysis
            for name in wanted:
                if ctx.out_of_time():
                    analysis.reasons.append(LIMIT_REACHED.reason("time budget spent inside the 7z archive"))
                    break
                try:
                    product = cast(Any, factory).get(name)
                except KeyError:
                    continue
                product.seek(0)
                data = product.read()
                if len(data) > limits.max_member_bytes:
                    analysis.reasons.append(ZIP_BOMB.reason(f"member {name!r} expands past the member limit",
                                                            location=f"member {name}"))
                    continue
                if ctx.scan_member is not None:
                    analysis.members.append(ctx.scan_member(BytesSource(f"{source.name}!{name}", data), None))
    finally:
        stream.close()
    analysis.metadata["members"] = len(infos)
    return analysis


def _check_members(infos: list[Any], ctx: ScanContext, analysis: Analysis) -> list[str]:
    """Report unsafe names, links and sizes; return the regular members worth decompressing."""
    limits = ctx.limits
    if len(infos) > limits.max_members:
        analysis.reasons.append(ZIP_BOMB.reason(f"{len(infos)} members (limit {limits.max_members})"))
        return []
    total = sum(int(getattr(info, "uncompressed", 0) or 0) for info in infos)
    if total > limits.max_total_uncompressed:
        analysis.reasons.append(ZIP_BOMB.reason(f"members declare {total:,} bytes uncompressed "
                                                f"(limit {limits.max_total_uncompressed:,})", detail={"total": total}))
        return []
    wanted = []
    for info in infos:
        name = str(info.filename)
        if _climbs_out(name) or name.startswith(("/", "\\")):
            analysis.reasons.append(ZIP_TRAVERSAL.reason(f"member {name!r} escapes the archive",
                                                         location=f"member {name}"))
        if getattr(info, "is_symlink", False):
            analysis.reasons.append(ZIP_LINK.reason(f"member {name!r} is a symbolic link", location=f"member {name}"))
            continue
        if getattr(info, "is_directory", False):
            continue
        if int(getattr(info, "uncompressed", 0) or 0) > limits.max_member_bytes:
            analysis.reasons.append(LIMIT_REACHED.reason(
                f"member {name!r} is {int(info.uncompressed):,} bytes; only members up to "
                f"{limits.max_member_bytes:,} are analysed", location=f"member {name}"))
            continue
        wanted.append(name)
    return wanted
