"""Model cards: what a business stakeholder reads about one model version.

Metrics, parameters, datasets with their hashes, lineage (run, notebook, code commit,
environment), signature, input example, alias history and promotions, as Markdown and as
HTML. Every value that came from a user is escaped for the format it lands in, so a param
value such as ``<script>`` shows as text.
"""

from __future__ import annotations

import dataclasses
import html
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.registry.signature import Signature, example_from_json

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import RunReader

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#+!|~])")


def md(value: Any) -> str:
    """Escape text for a Markdown table cell or line (HTML too: Markdown passes it through)."""
    text = " ".join(str(value).split())  # no newlines: they would break a table row
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    text: str = ""  # plain text shown when there are no rows


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """A rendered model card; shows itself as HTML in a notebook."""

    name: str
    version: int
    title: str
    summary: str
    sections: tuple[Section, ...]

    @property
    def markdown(self) -> str:
        out = [f"# {md(self.title)}", ""]
        if self.summary:
            out += [md(self.summary), ""]
        for s in self.sections:
            out += [f"## {md(s.title)}", ""]
            if s.rows:
                out.append("| " + " | ".join(md(h) for h in s.header) + " |")
                out.append("|" + "---|" * len(s.header))
                out += ["| " + " | ".join(md(c) for c in row) + " |" for row in s.rows]
            else:
                out.append(md(s.text or "(none)"))
            out.append("")
        return "\n".join(out)

    @property
    def html(self) -> str:
        e = html.escape
        out = [f'<div class="jp-mlops-model-card"><h1>{e(self.title)}</h1>']
        if self.summary:
            out.append(f"<p>{e(self.summary)}</p>")
        for s in self.sections:
            out.append(f"<h2>{e(s.title)}</h2>")
            if s.rows:
                out.append("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in s.header)
                           + "</tr></thead><tbody>")
                out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                        for row in s.rows]
                out.append("</tbody></table>")
            else:
                out.append(f"<p>{e(s.text or '(none)')}</p>")
        out.append("</div>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.html

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __str__(self) -> str:  # print(card) in a terminal: the Markdown, not a dataclass dump
        return self.markdown

    def save(self, path: str | Path) -> Path:
        """Write ``.html`` or Markdown (any other suffix) to ``path``."""
        path = Path(path)
        path.write_text(self.html if path.suffix.lower() in (".html", ".htm") else self.markdown,
                        encoding="utf-8")
        return path


def build_card(registry: Any, name: str, version: int | str | None = None) -> ModelCard:
    """Gather everything known about a version into a :class:`ModelCard`."""
    v = registry.get_version(name, version)
    model = registry.get_model(name)
    client = registry.client
    detail = None
    if v.run_id:
        try:
            detail = client.get_run(v.run_id)
        except NotFoundError:
            detail = None
    sections = [Section("Version", ("", ""), tuple((k, str(val)) for k, val in (
        ("Model class", v.model_class), ("File format", v.flavor),
        ("File hash (BLAKE3)", v.digest), ("Size", f"{v.size:,} bytes"),
        ("Registered by", v.created_by), ("Registered at", _when(v.created_at)),
        ("Aliases", ", ".join(v.aliases) or "-"),
        ("Types trusted beyond skops' defaults", ", ".join(v.trusted_types) or "-"),
        ("Run", f"{detail.run.name} ({v.run_id})" if detail else (v.run_id or "-")),
    )))]
    sections.append(Section("Metrics", ("metric", "value"),
                            tuple((k, _num(val)) for k, val in sorted(v.metrics.items())),
                            "No metrics were recorded on the run."))
    params = detail.params if detail else {}
    sections.append(Section("Parameters", ("param", "value"),
                            tuple((k, str(val)) for k, val in sorted(params.items()))))
    sections.append(Section(
        "Datasets", ("dataset", "version", "role", "rows", "hash (BLAKE3)"),
        tuple((d.name, str(d.version), d.role or "-", _num(d.row_count), d.digest)
              for d in (detail.datasets if detail else ())),
        "No datasets were logged with the run."))
    sections.append(_lineage(client, v, detail))
    sections.append(_signature(v))
    example = example_from_json(v.input_example)
    if example is not None and hasattr(example, "columns"):
        sections.append(Section("Input example", tuple(map(str, example.columns)), tuple(
            tuple(_num(x) for x in row) for row in example.itertuples(index=False))))
    elif example is not None:
        sections.append(Section("Input example", text=str(example.tolist())))
    history = registry.alias_history(name)
    sections.append(Section(
        "Alias history", ("when", "who", "action", "alias", "from", "to", "why"),
        tuple((_when(e.at), e.user, e.action, str((e.details or {}).get("alias", "")),
               _num((e.details or {}).get("previous")), _num((e.details or {}).get("version")),
               e.reason or (((e.details or {}).get("gate") or {}).get("summary") or ""))
              for e in history), "No alias was ever set."))
    promos = [p for p in registry.list_promotions(name) if p.version == v.version]
    sections.append(Section(
        "Promotion requests", ("#", "alias", "status", "proposed by", "decided by", "why"),
        tuple((str(p.id), p.alias, p.status, p.proposed_by, p.decided_by or "-",
               p.reason or "") for p in promos), "None for this version."))
    policy = model.gate_policy
    sections.append(Section("Promotion gates", ("rule", "setting"), tuple(
        (k, str(val)) for k, val in sorted((policy or {}).items())), "No gates are set."))
    # register_model(description=...) of a new model sets both: say it once.
    texts = [x for x in (model.description or "", v.description or "") if x]
    summary = " ".join(dict.fromkeys(texts))
    return ModelCard(name, v.version, f"Model card: {name} version {v.version}", summary,
                     tuple(sections))


def _lineage(client: RunReader, v: Any, detail: Any) -> Section:
    rows = []
    if detail is not None:
        r = detail.run
        rows.append(("Run", f"{r.name} ({r.id}) in {r.experiment}, {r.status}, by {r.user}"))
        if r.reproducible is not None:
            rows.append(("Reproducible", "yes" if r.reproducible else
                         f"no: {r.not_reproducible_reason}"))
        if detail.code:
            c = detail.code
            rows.append(("Notebook", f"{c.notebook_path or '(kernel history)'} "
                                     f"(snapshot {c.digest})"))
            if c.git_commit:
                rows.append(("Code commit", f"{c.git_commit} on {c.git_branch or '-'}"
                                            f"{' (uncommitted changes)' if c.git_dirty else ''}"))
        if detail.environment:
            env = detail.environment
            rows.append(("Environment", f"Python {env.python} on {env.platform}, "
                                        f"{len(env.packages)} packages ({env.digest})"))
    graph = client.lineage(f"model:{v.name}/{v.version}", depth=4)
    labels = {n.id: n.label for n in graph.nodes}
    upstream = graph.upstream() | {graph.root}
    for e in graph.edges:
        if e.dst in upstream:
            rows.append(("Edge", f"{labels.get(e.src, e.src)} --{e.relation}--> "
                                 f"{labels.get(e.dst, e.dst)}"))
    return Section("Lineage", ("", ""), tuple(rows), "No lineage was recorded.")


def _signature(v: Any) -> Section:
    if not v.signature:
        return Section("Signature", text="No signature: inputs are not checked.")
    sig = Signature.from_dict(v.signature)
    return Section("Signature", ("input", "type"), tuple(sig.describe()))
