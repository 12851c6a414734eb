"""Fenced code blocks of the project's Markdown documents, as the docs tests run them.

A document is read with markdown-it-py (CommonMark), so fences inside lists, ``~~~`` fences and
longer backtick fences are found exactly as a renderer finds them; a regex would not.

A block may carry one directive, an HTML comment on the line right before its fence (invisible
when the Markdown is rendered)::

    <!-- docs-test: skip: needs a GPU -->          not run; the reason is required and reported
    <!-- docs-test: background -->                 a command that runs until stopped (a server,
                                                   a scheduler): started, left running for the
                                                   document's later blocks, stopped at its end
    <!-- docs-test: continue -->                   run after the previous block (the default)

A ``docs-test:`` comment anywhere else, an unknown directive or a ``skip`` without a reason is a
:class:`DirectiveError` on the block (or the document), so a typo never silently changes what
runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

#: Fence languages whose blocks run, and how.
PYTHON = frozenset({"python", "py", "python3", "ipython"})
SHELL = frozenset({"bash", "sh", "shell", "console"})
#: Fence languages that are shown, never run (data, config, diagrams, sample output).
NOT_RUN = frozenset({
    "text", "txt", "plain", "output", "yaml", "yml", "json", "jsonc", "toml", "ini", "cfg",
    "mermaid", "diff", "html", "xml", "css", "javascript", "js", "typescript", "ts", "tsx",
    "jsx", "sql", "csv", "dockerfile", "make", "makefile",
})

_DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(?P<body>.*?)\s*-->", re.DOTALL)
_MARKER = re.compile(r"<!--\s*docs-test\b")


class DirectiveError(ValueError):
    """A ``docs-test:`` comment that cannot be obeyed (unknown, misplaced, incomplete)."""


@dataclass(frozen=True)
class Directive:
    kind: str               # "skip" | "background" | "continue"
    reason: str = ""        # required for "skip"
    line: int = 0           # 1-based line of the comment


@dataclass(frozen=True)
class Block:
    """One fenced code block of a document."""

    doc: str                # path relative to the repository, e.g. "docs/registry.md"
    fence_line: int         # 1-based line of the opening fence
    language: str           # the fence's first info word, lower-cased ("" when untagged)
    code: str
    directive: Directive | None = None
    error: str = ""         # a DirectiveError's message, reported when the block is run

    @property
    def line(self) -> int:
        """1-based line of the block's first line of code: what an editor and the ids show."""
        return self.fence_line + 1

    @property
    def key(self) -> str:
        """``README.md:L17``: the name used in the known-broken table and in messages."""
        return f"{self.doc}:L{self.line}"

    @property
    def id(self) -> str:
        return f"{self.key}-{self.language or 'untagged'}"

    @property
    def kind(self) -> str:
        """``python``, ``shell``, ``shown`` (never run) or ``unknown`` (no or an unknown tag)."""
        if self.language in PYTHON:
            return "python"
        if self.language in SHELL:
            return "shell"
        if self.language in NOT_RUN:
            return "shown"
        return "unknown"

    @property
    def runnable(self) -> bool:
        return self.kind in ("python", "shell")


@dataclass
class Document:
    path: Path
    rel: str
    blocks: list[Block] = field(default_factory=list)
    #: Directive comments attached to no fence (each names its line).
    errors: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> list[Block]:
        return [b for b in self.blocks if b.runnable]


def parse_directive(comment: str, line: int) -> Directive:
    """The directive in one ``<!-- docs-test: ... -->`` comment, or :class:`DirectiveError`."""
    match = _DIRECTIVE.search(comment)
    if match is None:
        raise DirectiveError(f"line {line}: malformed docs-test comment {comment.strip()!r}")
    kind, _, rest = match.group("body").partition(":")
    kind, rest = kind.strip().lower(), " ".join(rest.split())
    if kind == "skip":
        if not rest:
            raise DirectiveError(
                f"line {line}: 'docs-test: skip' needs a reason: <!-- docs-test: skip: WHY -->")
        return Directive("skip", rest, line)
    if kind in ("background", "continue"):
        if rest:
            raise DirectiveError(
                f"line {line}: 'docs-test: {kind}' takes no argument, got {rest!r}")
        return Directive(kind, "", line)
    raise DirectiveError(
        f"line {line}: unknown directive {kind!r} (known: skip: REASON, background, continue)")


def read_document(path: Path, root: Path) -> Document:
    """Every fenced block of ``path`` with its language, lines and directive."""
    text = path.read_text(encoding="utf-8")
    doc = Document(path=path, rel=path.relative_to(root).as_posix())
    pending: tuple[int, str] | None = None      # (line after the comment, comment) not yet used
    for token in MarkdownIt("commonmark").parse(text):
        if token.type == "html_block" and _MARKER.search(token.content):
            if pending is not None:
                doc.errors.append(_unattached(pending))
            pending = (token.map[1], token.content)
            continue
        if token.type != "fence" or token.map is None:
            # Indented code blocks have no language and never run; like any other token with
            # a position, they leave a pending directive attached to nothing.
            if pending is not None and token.map is not None:
                doc.errors.append(_unattached(pending))
                pending = None
            continue
        directive, error = None, ""
        if pending is not None:
            end_of_comment, comment = pending
            pending = None
            if end_of_comment == token.map[0]:
                try:
                    directive = parse_directive(comment, end_of_comment)
                except DirectiveError as exc:
                    error = str(exc)
            else:
                doc.errors.append(_unattached((end_of_comment, comment)))
        language = (token.info.split() or [""])[0].lower()
        doc.blocks.append(Block(doc.rel, token.map[0] + 1, language, token.content,
                                directive, error))
    if pending is not None:
        doc.errors.append(_unattached(pending))
    return doc


def _unattached(pending: tuple[int, str]) -> str:
    line, comment = pending
    return (f"{comment.strip()!r} (ending on line {line}) is not on the line right before a "
            "fence: it applies to nothing")


def discover(root: Path) -> list[Document]:
    """README.md, then every Markdown file under docs/, in path order."""
    paths = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    return [read_document(p, root) for p in paths if p.is_file()]


def shell_script(block: Block) -> tuple[str, list[int]]:
    """The commands of a shell block and, for each script line, its line in the document.

    ``console`` blocks show a session: only the ``$ `` lines (and their ``\\`` continuations)
    are commands; the rest is the output a reader would see.
    """
    lines = block.code.splitlines()
    if block.language != "console":
        return block.code, [block.line + i for i in range(len(lines))]
    script, origin, continued = [], [], False
    for i, raw in enumerate(lines):
        if continued or raw.startswith("$ ") or raw == "$":
            command = raw if continued else raw[2:]
            script.append(command)
            origin.append(block.line + i)
            continued = command.rstrip().endswith("\\")
    return "\n".join(script) + "\n", origin
