"""Reading the site file: YAML with line numbers, ``!secret`` and ``!env``.

ruamel.yaml's round-trip loader is used for reading as well as writing, because it keeps
the line of every key (so every error can name its line) and keeps comments and tags
intact when the importer appends zones to the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError

from gemhost.model import Secret

SECRETS_FILE = "secrets.yaml"

PathKey = tuple[str | int, ...]


@dataclass
class Problem:
    """One thing wrong with a site file, located by line and key path."""

    line: int | None
    path: str
    message: str

    def format(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


class SiteFileError(Exception):
    """The site file cannot be used; ``problems`` lists every reason at once."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.format(file) for p in problems))


def round_trip_yaml() -> YAML:
    """The one YAML configuration used to read and rewrite site files."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


@dataclass
class LoadedYaml:
    """The resolved document plus a map from key paths to line numbers (1-based)."""

    data: Any
    lines: dict[PathKey, int]
    problems: list[Problem]
    """Tag problems (missing secrets); reported together with the check's own."""

    def line(self, path: PathKey) -> int | None:
        """The line of ``path``, or of its closest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def load_site_yaml(path: Path) -> LoadedYaml:
    """Parse the site file and resolve secrets. Unreadable or unparsable files raise
    SiteFileError; a missing secret is recorded in ``problems`` so checking goes on."""
    file = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiteFileError(file, [Problem(None, "", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        raw = round_trip_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise SiteFileError(file, [Problem(line, "", f"invalid YAML: {reason}")]) from None
    resolver = _Resolver(path.parent / SECRETS_FILE)
    lines: dict[PathKey, int] = {(): 1}
    data = resolver.resolve(raw, (), "", lines)
    return LoadedYaml(data, lines, resolver.problems)


class _Resolver:
    """Turns ruamel nodes into plain dicts/lists, resolving tags and recording lines."""

    def __init__(self, secrets_path: Path) -> None:
        self.secrets_path = secrets_path
        self._secrets: dict[str, Any] | None = None
        self.problems: list[Problem] = []

    def resolve(self, node: Any, path: PathKey, display: str, lines: dict[PathKey, int]) -> Any:
        """``display`` is the user-facing key path, naming list items by their id."""
        if isinstance(node, CommentedMap):
            out = {}
            for key, value in node.items():
                line = node.lc.key(key)[0] + 1
                lines[(*path, key)] = line
                out[key] = self.resolve(value, (*path, key), f"{display}.{key}" if display else str(key), lines)
            return out
        if isinstance(node, CommentedSeq):
            items = []
            for index, value in enumerate(node):
                lines[(*path, index)] = node.lc.item(index)[0] + 1
                label = value.get("id") if isinstance(value, CommentedMap) else None
                label = label if isinstance(label, str) and label else index
                items.append(self.resolve(value, (*path, index), f"{display}[{label}]", lines))
            return items
        if isinstance(node, TaggedScalar):
            return self._tagged(node, lines.get(path), display)
        return node

    def _tagged(self, node: TaggedScalar, line: int | None, display: str) -> Any:
        tag = str(node.tag.value if hasattr(node.tag, "value") else node.tag)
        name = str(node.value).strip()
        if tag == "!secret":
            secrets = self._load_secrets()
            if secrets is None:
                self.problems.append(Problem(line, display, f"secret {name!r}: "
                                             f"{self.secrets_path.name} not found beside the site file"))
                return None
            if name not in secrets:
                self.problems.append(Problem(line, display,
                                             f"secret {name!r} is not in {self.secrets_path.name}"))
                return None
            return Secret(secrets[name])
        if tag == "!env":
            if name not in os.environ:
                self.problems.append(Problem(line, display,
                                             f"environment variable {name!r} is not set"))
                return None
            return Secret(os.environ[name])
        self.problems.append(Problem(line, display, f"unknown tag {tag} (use !secret or !env)"))
        return None

    def _load_secrets(self) -> dict[str, Any] | None:
        """The secrets file's mapping; None when it does not exist."""
        if not self.secrets_path.exists():
            return None
        if self._secrets is None:
            try:
                loaded = YAML(typ="safe").load(self.secrets_path.read_text(encoding="utf-8"))
            except (OSError, MarkedYAMLError) as exc:
                # Never echo the file's text: YAML errors quote the offending line, a secret.
                mark = getattr(exc, "problem_mark", None)
                where = f" (line {mark.line + 1})" if mark else ""
                self.problems.append(Problem(None, "", f"{self.secrets_path.name}: cannot parse{where}"))
                self._secrets = {}
                return self._secrets
            self._secrets = {str(k): v for k, v in (loaded or {}).items()}
        return self._secrets
