"""Broken user files must fail at load with the file path and the line of the offending node.

Each case marks the line it expects with a trailing ``# <-`` comment.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import anzhi.taxonomy._yaml as yaml_reader
from anzhi.errors import ConfigurationError, TaxonomyError
from anzhi.taxonomy import SourceStatus, load_taxonomy

TAX_HEAD = """\
kind: taxonomy
id: mine
name_zh: 自定义
name_en: Custom
source: tests
status: unconfirmed
items:
"""

ITEM_A = """\
  - id: mine.A
    title_zh: 甲
    title_en: A
    status: unconfirmed
"""

CAT_HEAD = """\
kind: catalog
id: mycat
name_zh: 自定义目录
name_en: Custom catalog
source: tests
status: unconfirmed
requirements:
"""

XW_HEAD = """\
kind: crosswalk
id: myxw
name_zh: 自定义映射
name_en: Custom crosswalk
status: unconfirmed
links:
"""

CASES = {
    "duplicate_id_in_file": TAX_HEAD
    + ITEM_A
    + """\
  - id: mine.A  # <-
    title_zh: 甲
    title_en: A again
    status: unconfirmed
""",
    "duplicate_set_id_with_shipped": """\
kind: taxonomy
id: gbt45654  # <-
name_zh: 冲突
name_en: Clash
source: tests
status: unconfirmed
items: []
""",
    "unknown_parent": TAX_HEAD
    + ITEM_A
    + """\
  - id: mine.B
    title_zh: 乙
    title_en: B
    parent: mine.NOPE  # <-
    status: unconfirmed
""",
    "parent_cycle": TAX_HEAD
    + """\
  - id: mine.A
    title_zh: 甲
    title_en: A
    parent: mine.B  # <-
    status: unconfirmed
  - id: mine.B
    title_zh: 乙
    title_en: B
    parent: mine.A
    status: unconfirmed
""",
    "crosswalk_to_missing_id": XW_HEAD
    + """\
  - a: owasp-llm.LLM01
    relation: related
    b: gbt45654.A1.a
    status: unconfirmed
  - a: owasp-llm.LLM02
    relation: related
    b: gbt45654.A9.z  # <-
    status: unconfirmed
""",
    "crosswalk_duplicate_link": XW_HEAD
    + """\
  - {a: owasp-llm.LLM01, relation: related, b: gbt45654.A1.a, status: unconfirmed}
  - {a: gbt45654.A1.a, relation: related, b: owasp-llm.LLM01, status: unconfirmed}  # <-
""",
    "threshold_op_invalid": CAT_HEAD
    + """\
  - id: r1
    title_zh: 要求一
    title_en: Requirement one
    kind: technical
    status: unconfirmed
    threshold:
      metric: harmful_ratio
      op: "=>"  # <-
      value: 0.05
      unit: ratio
      status: unconfirmed
""",
    "threshold_ratio_out_of_range": CAT_HEAD
    + """\
  - id: r1
    title_zh: 要求一
    title_en: Requirement one
    kind: technical
    status: unconfirmed
    threshold:  # <-
      metric: pass_rate
      op: ">="
      value: 95
      unit: ratio
      status: unconfirmed
""",
    "requirement_unknown_risk": CAT_HEAD
    + """\
  - id: r1
    title_zh: 要求一
    title_en: Requirement one
    kind: process
    status: unconfirmed
    risks:
      - gbt45654.A1.a
      - gbt45654.A1.zz  # <-
""",
    "bad_check_id": CAT_HEAD
    + """\
  - id: r1
    title_zh: 要求一
    title_en: Requirement one
    kind: process
    status: unconfirmed
    checks:
      - data.scan
      - Eval GBT  # <-
""",
    "unknown_group": CAT_HEAD
    + """\
  - id: r1
    group: nowhere  # <-
    title_zh: 要求一
    title_en: Requirement one
    kind: process
    status: unconfirmed
""",
    "missing_status": TAX_HEAD
    + """\
  - id: mine.A  # <-
    title_zh: 甲
    title_en: A
""",
    "bad_status_value": TAX_HEAD
    + """\
  - id: mine.A
    title_zh: 甲
    title_en: A
    status: maybe  # <-
""",
    "unknown_field": TAX_HEAD
    + """\
  - id: mine.A
    title_zh: 甲
    title_en: A
    titel_en: typo  # <-
    status: unconfirmed
""",
    "id_without_prefix": TAX_HEAD
    + """\
  - id: other.A  # <-
    title_zh: 甲
    title_en: A
    status: unconfirmed
""",
    "duplicate_yaml_key": TAX_HEAD
    + """\
  - id: mine.A
    title_zh: 甲
    title_zh: 甲甲  # <-
    title_en: A
    status: unconfirmed
""",
    "yaml_syntax_error": TAX_HEAD
    + """\
  - id: mine.A
    title_zh: 甲
    title_en: bad: value  # <-
    status: unconfirmed
""",
    "yaml_unclosed_flow": TAX_HEAD
    + """\
  - {id: mine.A, title_zh: 甲, title_en: A, status: unconfirmed}
  - {id: mine.B, title_zh: 乙, title_en: B, status: unconfirmed
  - {id: mine.C, title_zh: 丙, title_en: C, status: unconfirmed}  # <-
""",
    "bad_kind": """\
kind: taxnomy  # <-
id: mine
""",
    "attribute_wrong_type": """\
kind: taxonomy
id: mine
name_zh: 自定义
name_en: Custom
source: tests
status: unconfirmed
attributes:
  sensitive: bool
items:
  - id: mine.A
    title_zh: 甲
    title_en: A
    status: unconfirmed
    sensitive: "yes"  # <-
""",
}


def _expected_line(text: str) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.rstrip().endswith("# <-")]
    assert len(lines) == 1, "each case marks exactly one line"
    return lines[0]


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each case through both PyYAML parsers: line numbers must not depend on libyaml."""
    if request.param == "pure-python":
        monkeypatch.setattr(yaml_reader, "_Loader", yaml.SafeLoader)
    name: str = request.param
    return name


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_file_reports_path_and_line(tmp_path: Path, case: str, parser: str) -> None:
    text = CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    line = _expected_line(text)
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy([tmp_path])
    err = info.value
    assert isinstance(err, ConfigurationError)
    assert err.path == path
    assert err.line == line, str(err)
    assert f"{path}:{line}:" in str(err)


def test_messages_say_what_is_wrong(tmp_path: Path) -> None:
    expectations = {
        "duplicate_id_in_file": "duplicate risk id 'mine.A'",
        "duplicate_set_id_with_shipped": "first defined at",
        "unknown_parent": "unknown parent 'mine.NOPE'",
        "crosswalk_to_missing_id": "did you mean",
        "threshold_op_invalid": "threshold.op",
        "requirement_unknown_risk": "unknown risk 'gbt45654.A1.zz'",
        "unknown_field": "unknown field 'titel_en'",
        "yaml_syntax_error": "YAML syntax error",
        "duplicate_yaml_key": "duplicate key 'title_zh'",
    }
    for case, fragment in expectations.items():
        folder = tmp_path / case
        folder.mkdir()
        (folder / "f.yaml").write_text(CASES[case], encoding="utf-8")
        with pytest.raises(TaxonomyError) as info:
            load_taxonomy([folder])
        assert fragment in str(info.value), (case, str(info.value))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="empty") as info:
        load_taxonomy([tmp_path])
    assert info.value.path == path


def test_missing_extra_dir(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="does not exist"):
        load_taxonomy([tmp_path / "nope"])


def test_user_extension_loads_and_links(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "acme.yaml").write_text(
        TAX_HEAD.replace("id: mine", "id: acme")
        + """\
  - id: acme.FIN_FRAUD
    title_zh: 金融欺诈诱导
    title_en: Inducing financial fraud
    parent: gbt45654.A1.h
    status: unconfirmed
""",
        encoding="utf-8",
    )
    (tmp_path / "sub" / "acme-rules.yml").write_text(
        CAT_HEAD.replace("id: mycat", "id: acme-rules")
        + """\
  - id: R-1
    title_zh: 拦截金融欺诈诱导
    title_en: Block inducement to financial fraud
    kind: technical
    status: confirmed
    risks: [acme.FIN_FRAUD]
    checks: [guard.gateway, acme.fraud-check]
    threshold: {metric: attack_success_rate, op: "<=", value: 0.02, unit: ratio, status: confirmed}
""",
        encoding="utf-8",
    )
    (tmp_path / "sub" / "links.yaml").write_text(
        XW_HEAD + "  - {a: acme.FIN_FRAUD, relation: part_of, b: gbt45654.A1, status: unconfirmed}\n",
        encoding="utf-8",
    )
    tax = load_taxonomy([tmp_path])
    assert tax.risk("acme.FIN_FRAUD").parent == "gbt45654.A1.h"
    assert "acme.FIN_FRAUD" in [c.id for c in tax.children("gbt45654.A1.h")]
    req = tax.requirement("acme-rules:R-1")
    assert req.status is SourceStatus.CONFIRMED
    assert req in tax.requirements_for_check("acme.fraud-check")
    assert req in tax.requirements_for_risk("gbt45654.A1")
    assert ("gbt45654.A1", "part_of") in [(i, str(r)) for i, r in tax.related("acme.FIN_FRAUD")]
    assert len(tax.sources) == len(load_taxonomy().sources) + 3
