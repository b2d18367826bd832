"""Opening a workspace: settings, user taxonomy folders, and broken input reported before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from anzhi.config import Settings
from anzhi.errors import TaxonomyError
from anzhi.workspace import Workspace


def test_fresh_workspace_initialises_once(tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    token = ws.initialise()
    assert token is not None and token.startswith("anz_")
    assert ws.initialise() is None  # the first token is shown once only
    assert (tmp_path / "home" / "anzhi.db").is_file()
    ws.close()


def test_user_taxonomy_folder_extends_the_shipped_one(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "bank.yaml").write_text(
        "kind: taxonomy\nid: bank\nname_zh: 银行内部风险\nname_en: Bank internal risks\nsource: internal\n"
        "status: confirmed\nitems:\n  - id: bank.R1\n    title_zh: 模型越权\n    title_en: Model overreach\n"
        "    status: confirmed\n",
        encoding="utf-8",
    )
    ws = Workspace.open(Settings(home=tmp_path / "home", taxonomy_dirs=str(folder)))
    assert ws.taxonomy.risk("bank.R1").title_en == "Model overreach"
    assert ws.taxonomy.has_risk("gbt45654.A1.a")
    ws.close()


def test_malformed_user_catalog_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    broken = folder / "broken.yaml"
    broken.write_text(
        "kind: taxonomy\nid: bank\nname_zh: 银行\nname_en: Bank\nsource: internal\nstatus: confirmed\nitems:\n"
        "  - id: bank.R1\n    title_zh: a\n    title_en: b\n    status: confirmed\n    parent: bank.NOPE\n",
        encoding="utf-8",
    )
    with pytest.raises(TaxonomyError) as info:
        Workspace.open(Settings(home=tmp_path / "home", taxonomy_dirs=str(folder)))
    message = str(info.value)
    assert str(broken) in message and ":12:" in message and "bank.NOPE" in message
