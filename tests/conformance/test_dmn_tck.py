"""The DMN TCK: every case listed in ``tck_ratchet.txt`` must keep passing.

One test per TCK folder (each folder's model is loaded once). ``dmn_tck.py
--update-ratchet`` regenerates the ratchet from the current engine.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from conformance.dmn_tck import folders, read_ratchet, run_folder, tck_root
from legato.safexml import parse_xml, read_source

pytestmark = pytest.mark.slow

TCK_AVAILABLE = tck_root().is_dir()
RATCHET = read_ratchet()
BY_FOLDER: dict[str, set[str]] = defaultdict(set)
for key in RATCHET:
    BY_FOLDER["/".join(key.split("/")[:2])].add(key)
FOLDERS = folders() if TCK_AVAILABLE else []

needs_corpus = pytest.mark.skipif(not TCK_AVAILABLE, reason="DMN TCK corpus not available")


@needs_corpus
@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_ratcheted_cases_still_pass(folder: Path) -> None:
    label = f"{folder.parent.name}/{folder.name}"
    expected = BY_FOLDER.get(label, set())
    if not expected:
        pytest.skip(f"no ratcheted case in {label}")

    results = {r.key: r for r in run_folder(folder)}

    regressions = [
        f"{key}: {results[key].message if key in results else 'not run'}"
        for key in sorted(expected)
        if key not in results or results[key].status != "SUCCESS"
    ]
    assert not regressions, "\n".join(regressions)


@needs_corpus
def test_ratchet_lists_only_existing_cases() -> None:
    known_folders = {f"{f.parent.name}/{f.name}": f for f in FOLDERS}
    missing = []
    for label, keys in BY_FOLDER.items():
        folder = known_folders.get(label)
        if folder is None:
            missing.extend(keys)
            continue
        case_keys = _case_keys(folder, label)
        missing.extend(key for key in keys if key not in case_keys)
    assert not missing, missing


@needs_corpus
def test_ratchet_covers_all_of_level_2() -> None:
    level_2 = [f for f in FOLDERS if f.parent.name == "compliance-level-2"]
    keys = {key for f in level_2 for key in _case_keys(f, f"{f.parent.name}/{f.name}")}
    assert keys
    assert keys <= set(RATCHET)


def _case_keys(folder: Path, label: str) -> set[str]:
    keys = set()
    for test_file in folder.glob("*-test-*.xml"):
        root = parse_xml(*read_source(test_file))
        for case in root:
            if isinstance(case.tag, str) and etree.QName(case).localname == "testCase":
                keys.add(f"{label}/{test_file.stem}/{case.get('id')}")
    return keys
