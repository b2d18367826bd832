"""Build the AI-BOM of a model folder or file: one ``machine-learning-model`` component, its files and datasets."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from cyclonedx.exception.model import CycloneDxModelException
from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.spdx import fixup_id, is_expression

from anzhi import __version__
from anzhi.develop.aibom._document import AiBom
from anzhi.develop.aibom._files import (
    ModelFile,
    ResultIndex,
    file_component,
    hub_repo,
    is_inside,
    list_files,
    model_home,
)
from anzhi.develop.aibom._huggingface import (
    CardInfo,
    ConfigInfo,
    MetadataFileError,
    read_config,
    read_model_card,
    read_shard_index,
)
from anzhi.develop.aibom._metadata import ModelFacts, model_facts
from anzhi.develop.aibom._modelcard import DatasetRef, ModelCard, task_from_architecture
from anzhi.develop.models import FileResult, ModelFormat, ScanReport, Verdict, worst_verdict
from anzhi.errors import InputError

__all__ = ["build_aibom"]

_NOT_A_MODEL_FORMAT = "MODEL-491"  # the scanner's "content matches no model format"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_CARD_NAMES = ("README.md", "readme.md", "README.MD", "Readme.md")


def _uri(value: str | None) -> XsUri | None:
    if not value or not value.startswith(("http://", "https://")):
        return None
    try:
        return XsUri(value)
    except (CycloneDxModelException, ValueError):
        return None


def _licence(value: str, *, url: str | None = None) -> License:
    """An SPDX id (case repaired), else an SPDX expression, else a named licence."""
    spdx = fixup_id(value)
    if spdx is not None:
        return DisjunctiveLicense(id=spdx)
    if " " in value.strip() and is_expression(value):
        return LicenseExpression(value)
    return DisjunctiveLicense(name=value, url=_uri(url))


def _licences(card: CardInfo | None, facts: ModelFacts) -> list[License]:
    """The model card's licences, else the GGUF ``general.license``."""
    if card is None or not card.licenses:
        return [_licence(facts.license, url=facts.license_link)] if facts.license else []
    licences: list[License] = []
    for value in card.licenses:
        if value.lower() == "other":
            licences.append(DisjunctiveLicense(name=card.license_name or "other", url=_uri(card.license_link)))
        else:
            licences.append(_licence(value, url=card.license_link))
    if len(licences) > 1:  # CycloneDX allows one expression or a list of licences, never both
        licences = [lic for lic in licences if isinstance(lic, DisjunctiveLicense)]
    return licences


def _hub_cache_id(root: Path) -> tuple[str, str] | None:
    """``(org/name, revision)`` for a Hugging Face cache snapshot (``models--org--name/snapshots/<sha>``)."""
    folder = root if root.is_dir() else root.parent
    repo = hub_repo(folder)
    if repo is None:
        return None
    return repo.name.removeprefix("models--").replace("--", "/"), folder.resolve().name


def _name_and_version(
    root: Path, card: CardInfo | None, config: ConfigInfo | None, facts: ModelFacts
) -> tuple[str, str | None]:
    hub = _hub_cache_id(root)
    config_name = config.name_or_path if config and config.name_or_path else None
    candidates = [
        hub[0] if hub else None,
        card.name if card else None,
        config_name if config_name and _HUB_ID.fullmatch(config_name) else None,
        facts.name,
    ]
    name = next((c for c in candidates if c), None) or (root.resolve().name if root.is_dir() else root.stem)
    return name or "model", hub[1] if hub else facts.version


def _read_folder(root: Path, notes: list[str]) -> tuple[CardInfo | None, ConfigInfo | None, int | None]:
    """The model card, config and shard-index total of a folder (``None`` for what is missing or unreadable).

    A metadata file that is a link out of the model's home is not read (it could expose any file on the host).
    """
    if not root.is_dir():
        return None, None, None
    home = model_home(root)

    def usable(path: Path) -> bool:
        if not path.is_file():
            return False
        if not is_inside(path, home):
            notes.append(f"{path.name} not read: it links out of the model folder")
            return False
        return True

    card = config = None
    total: int | None = None
    card_path = next((root / n for n in _CARD_NAMES if (root / n).is_file()), None)
    try:
        card = read_model_card(card_path) if card_path is not None and usable(card_path) else None
    except (MetadataFileError, OSError) as exc:
        notes.append(f"model card not used: {exc}")
    try:
        config = read_config(root / "config.json") if usable(root / "config.json") else None
    except (MetadataFileError, OSError) as exc:
        notes.append(f"config.json not used: {exc}")
    for index in sorted(root.glob("*.safetensors.index.json"))[:1]:
        try:
            total = read_shard_index(index) if usable(index) else None
        except (MetadataFileError, OSError) as exc:
            notes.append(f"{index.name} not used: {exc}")
    return card, config, total


def _model_properties(
    config: ConfigInfo | None, facts: ModelFacts, card: CardInfo | None, tensor_bytes: int | None
) -> list[Property]:
    values: list[tuple[str, object]] = [
        ("anzhi:parameters", (config.parameters if config else None) or facts.parameters),
        ("anzhi:quantization", (config.quantization if config else None) or facts.quantization),
        ("anzhi:context-length", facts.context_length),
        ("anzhi:tensor-bytes", tensor_bytes),
        ("anzhi:library", card.library if card else None),
    ]
    if config is not None:
        values.extend((f"anzhi:config:{key}", value) for key, value in config.properties.items())
        if config.remote_code:
            values.append(("anzhi:remote-code", "true"))
    if card is not None:
        values.extend(("anzhi:language", language) for language in card.languages)
    return [Property(name=name, value=str(value)) for name, value in values if value is not None]


def _dataset_component(dataset: DatasetRef) -> Component:
    url = dataset.hub_url
    refs = [ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(url))] if url else []
    return Component(type=ComponentType.DATA, name=dataset.name, bom_ref=dataset.bom_ref, external_references=refs)


def _model_card(card: CardInfo | None, config: ConfigInfo | None, facts: ModelFacts) -> ModelCard:
    architectures = config.architectures if config else ()
    by_ref = {ref.bom_ref: ref for ref in (DatasetRef(d) for d in (card.datasets if card else ()))}
    return ModelCard(
        architecture_family=(config.model_type if config else None) or facts.architecture,
        model_architecture=", ".join(architectures) or None,
        task=(card.task if card else None) or task_from_architecture(architectures[0] if architectures else None),
        datasets=tuple(by_ref.values()),
        metrics=card.metrics if card else (),
        use_cases=card.use_cases if card else (),
        limitations=card.limitations if card else (),
    )


def _scan(root: Path, files: list[ModelFile]) -> ScanReport:
    """Scan the model as the BOM lists it: the folder, plus by name the links it follows (the scanner does not)."""
    from anzhi.develop.models import scan_paths  # looked up at call time, so tests can stand in for it

    report = scan_paths([root])
    linked = [item.path for item in files if item.link is not None and item.followed]
    if not linked or not root.is_dir():
        return report
    named = scan_paths(linked)  # first in the list, so the index prefers them to "link not followed" results
    return replace(report, results=[*named.results, *report.results])


def _model_verdict(results: list[FileResult]) -> Verdict | None:
    """The worst verdict over the model's files.

    Companions of no model format (README, JSON) do not count unless something beyond "not a model format" fired.
    """
    counted = [
        r
        for r in results
        if r.format is not ModelFormat.UNKNOWN or any(x.rule_id != _NOT_A_MODEL_FORMAT for x in r.reasons)
    ]
    return worst_verdict([r.verdict for r in counted]) if counted else None


def build_aibom(path: Path | str, *, report: ScanReport | None = None, scan: bool = True) -> AiBom:
    """Build the CycloneDX 1.6 AI-BOM of a model folder or a single model file.

    Args:
        path: a model folder (Hugging Face style or any) or one model file.
        report: the scanner's report on ``path``, if already run; its verdicts and metadata are used.
        scan: scan ``path`` now when no report is given (static: nothing is loaded or run).

    Returns:
        The BOM, with the model card to be written alongside it (see :class:`AiBom`).

    Raises:
        InputError: ``path`` does not exist or is neither a regular file nor a folder.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such file or folder; give a model folder or a model file")
    if not (root.is_dir() or root.is_file()):
        raise InputError(f"{root}: not a regular file or a folder")
    files, left_out = list_files(root)
    if report is None and scan:
        report = _scan(root, files)
    index = ResultIndex(report.results if report is not None else [])
    notes: list[str] = []
    card, config, tensor_bytes = _read_folder(root, notes)

    file_components: list[Component] = []
    scanned: list[FileResult] = []
    for item in files:
        result = index.get(item.path)
        try:
            file_components.append(file_component(item, result))
        except OSError as exc:
            notes.append(f"{item.relpath}: not read ({exc.strerror or exc})")
            continue
        if result is not None:
            scanned.append(result)
    facts = model_facts(scanned)
    name, version = _name_and_version(root, card, config, facts)

    model_card = _model_card(card, config, facts)
    props = _model_properties(config, facts, card, tensor_bytes)
    props.append(Property(name="anzhi:files", value=str(len(files) + left_out)))
    if left_out:
        notes.append(f"{left_out} files past the first {len(files)} are not listed")
    if report is None:
        props.append(Property(name="anzhi:scan", value="not scanned"))
    elif (verdict := _model_verdict(scanned)) is not None:
        props.append(Property(name="anzhi:verdict", value=verdict.value))
    props.extend(Property(name="anzhi:note", value=note[:300]) for note in notes)
    base_models = card.base_models if card else ()
    ancestors = [
        Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=base, bom_ref=f"base-model:{base}")
        for base in base_models
    ]
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=name,
        version=version,
        bom_ref=f"model:{name}",
        licenses=_licences(card, facts),
        properties=props,
        tags=card.tags if card else (),
        pedigree=Pedigree(ancestors=ancestors) if ancestors else None,
    )

    bom = Bom()
    bom.metadata.tools.components.add(Component(type=ComponentType.APPLICATION, name="anzhi", version=__version__))
    bom.components.add(model)
    bom.components.update(file_components)
    bom.components.update(_dataset_component(d) for d in model_card.datasets)
    bom.register_dependency(model, file_components)
    return AiBom(
        bom=bom,
        model=model,
        model_card=model_card,
        datasets=model_card.datasets,
        results=scanned if report is not None else None,
        verdict=_model_verdict(scanned),
        notes=tuple(notes),
    )
