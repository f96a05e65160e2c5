"""Loading DMN files and resolving their imports by namespace."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from legato.dmn.decision_model import DecisionModel
from legato.dmn.reader import parse_root, read_definitions
from legato.errors import DmnParseError, SourceLocation
from legato.safexml import ModelSource


def load(source: ModelSource) -> DecisionModel:
    """Read and compile one DMN model.

    Args:
        source: A path, or the XML itself (``str`` starting with ``<``, or ``bytes``).
            When a file imports other models, the ``.dmn`` files of its folder are searched
            for the imported namespaces.

    Raises:
        DmnParseError: For malformed or hostile XML, XML that is not DMN, a broken model, or
            an import that no file in the folder provides. The message names file and line.
    """
    root, file_name = parse_root(source)
    model = _compile(root, file_name)
    if model.definitions.imports:
        folder = Path(file_name).parent if file_name else None
        _link_all([model, *_imported(model, folder)])
    return model


def load_many(sources: Iterable[ModelSource]) -> dict[str, DecisionModel]:
    """Read several DMN models that may import each other, keyed by model name.

    Raises:
        DmnParseError: As :func:`load`, or when an import names a namespace none of the
            files has.
    """
    models = [_compile(*parse_root(source)) for source in sources]
    _link_all(models)
    return {model.name: model for model in models}


def _compile(root: etree._Element, file_name: str | None) -> DecisionModel:
    definitions, types = read_definitions(root, file_name)
    return DecisionModel(definitions, types)


def _imported(model: DecisionModel, folder: Path | None) -> list[DecisionModel]:
    """The models ``model`` imports, directly or not, found among the folder's files."""
    if folder is None:
        return []
    candidates: dict[str, Path] = {}
    for path in sorted(folder.glob("*.dmn")):
        if model.definitions.file and os.path.samefile(path, model.definitions.file):
            continue
        try:
            root, _ = parse_root(path)
        except DmnParseError:
            continue  # an unrelated broken file in the folder is not this model's problem
        candidates.setdefault(root.get("namespace", ""), path)
    loaded: dict[str, DecisionModel] = {model.namespace: model}
    pending = [model]
    while pending:
        current = pending.pop()
        for item in current.definitions.imports:
            if item.namespace in loaded or item.namespace not in candidates:
                continue
            imported = _compile(*parse_root(candidates[item.namespace]))
            loaded[item.namespace] = imported
            pending.append(imported)
    return [m for m in loaded.values() if m is not model]


def _link_all(models: list[DecisionModel]) -> None:
    by_namespace = {model.namespace: model for model in models}
    for model in models:
        for item in model.definitions.imports:
            target = by_namespace.get(item.namespace)
            if target is None:
                raise DmnParseError(
                    f"import '{item.name}': no model with namespace '{item.namespace}'",
                    SourceLocation(model.definitions.file),
                )
            model.link(item.name, target)
