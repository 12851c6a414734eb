"""The block extractor: what it finds, where, and which directives it obeys or refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from .blocks import DirectiveError, parse_directive, read_document, shell_script

DOC = """\
# Title

```python
x = 1
```

<!-- docs-test: skip: needs a GPU -->
```bash
nvidia-smi
```

- a list item

  ```sh
  echo nested
  ```

~~~yaml
a: 1
~~~

<!-- docs-test: background -->
```console
$ jupyter mlops serve models:/m@a \\
    --port 5005
Serving m version 1
$ echo two
two
```

```
untagged
```
"""


def _read(tmp_path: Path, text: str):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "docs" / "guide.md"
    path.write_text(text)
    return read_document(path, tmp_path)


def test_blocks_languages_lines_and_directives(tmp_path):
    doc = _read(tmp_path, DOC)
    assert [(b.line, b.language, b.kind) for b in doc.blocks] == [
        (4, "python", "python"), (9, "bash", "shell"), (15, "sh", "shell"),
        (19, "yaml", "shown"), (24, "console", "shell"), (32, "", "unknown")]
    assert doc.blocks[0].key == "docs/guide.md:L4" and doc.blocks[0].id == "docs/guide.md:L4-python"
    assert doc.blocks[0].code == "x = 1\n"
    assert doc.blocks[2].code == "echo nested\n"          # de-indented like a renderer does
    assert doc.blocks[0].directive is None
    assert (doc.blocks[1].directive.kind, doc.blocks[1].directive.reason) == ("skip", "needs a GPU")
    assert doc.blocks[4].directive.kind == "background"
    assert [b.line for b in doc.runnable] == [4, 9, 15, 24]
    assert doc.errors == []


def test_console_blocks_run_only_their_prompt_lines(tmp_path):
    block = _read(tmp_path, DOC).blocks[4]
    script, origin = shell_script(block)
    assert script == "jupyter mlops serve models:/m@a \\\n    --port 5005\necho two\n"
    assert origin == [24, 25, 27]


def test_a_directive_must_sit_right_before_its_fence(tmp_path):
    doc = _read(tmp_path, "<!-- docs-test: background -->\n\n```bash\nsleep 1\n```\n"
                          "\ntext\n<!-- docs-test: skip: why -->\n")
    assert doc.blocks[0].directive is None
    assert len(doc.errors) == 2 and "not on the line right before a fence" in doc.errors[0]


@pytest.mark.parametrize("comment, message", [
    ("<!-- docs-test: skip -->", "needs a reason"),
    ("<!-- docs-test: skip:   -->", "needs a reason"),
    ("<!-- docs-test: backgrund -->", "unknown directive 'backgrund'"),
    ("<!-- docs-test: background: now -->", "takes no argument"),
])
def test_bad_directives_are_refused(comment, message):
    with pytest.raises(DirectiveError, match=message):
        parse_directive(comment, 3)


def test_a_bad_directive_is_carried_by_its_block(tmp_path):
    block = _read(tmp_path, "<!-- docs-test: skip -->\n```python\n1\n```\n").blocks[0]
    assert block.directive is None and "needs a reason" in block.error


def test_continue_is_accepted():
    assert parse_directive("<!-- docs-test: continue -->", 1).kind == "continue"
