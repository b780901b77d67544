"""The user guide (docs/, built with mkdocs): every page's Python examples run,
in order, as one program per page; the site builds without warnings."""

import os
import re
import subprocess
import sys

import pytest

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "docs")
PAGES = sorted(name for name in os.listdir(DOCS) if name.endswith(".md"))


def python_blocks(page):
    with open(os.path.join(DOCS, page)) as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.M | re.S)


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    assert blocks, f"{page} has no Python example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    namespace = {"__name__": f"docs_{page[:-3]}"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{page} (example {number})", "exec"), namespace)


def test_the_site_builds_without_warnings(tmp_path):
    root = os.path.join(DOCS, os.pardir)
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "migrating" / "index.html").exists()
