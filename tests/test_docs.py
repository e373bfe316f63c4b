"""The documents: every relative link and image in README.md and docs/*.md exists (anchors
included), the README stays an entry point, and the project speaks of itself alone."""

import glob
import os
import re
import subprocess

from tests.helpers import ROOT

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.M)
# Words about the circumstances a text was written in rather than about the project.
CIRCUMSTANCES = re.compile(
    r"\bissue ?#?\d+|\(#\d+\)|(?<![\"'])\bsessions?\b(?! ?[=(.])|\blent\b"
    r"|devic[e] (tool|call)|64 Mi[B]|\.\./share[d]",
    re.I,
)


def _documents():
    return [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]


def slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def broken_links(path):
    """["target (reason)"] for the relative links of a Markdown file that lead nowhere."""
    text = open(path, encoding="utf-8").read()
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        file, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(full):
            broken.append(f"{target} (no such file)")
        elif anchor and full.endswith(".md"):
            anchors = {slug(h) for h in HEADING.findall(open(full, encoding="utf-8").read())}
            if anchor not in anchors:
                broken.append(f"{target} (no heading with that anchor)")
    return broken


def test_every_relative_link_and_image_exists():
    documents = _documents()
    assert len(documents) >= 5
    broken = {os.path.relpath(d, ROOT): broken_links(d) for d in documents}
    assert not any(broken.values()), {d: b for d, b in broken.items() if b}


def test_the_link_check_catches_a_missing_file_and_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# A heading — `with code`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "![pic](missing.png) [ok](other.md) [ok](other.md#a-heading--with-code) "
        "[bad](other.md#nowhere) [web](https://example.org/x.png) [self](#top)\n# Top\n"
    )
    assert broken_links(str(page)) == [
        "missing.png (no such file)",
        "other.md#nowhere (no heading with that anchor)",
    ]


def test_the_readme_is_an_entry_point():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert len(text.splitlines()) <= 250
    assert "pip install -q -e . && python train_main.py --config=smoke" in text
    assert 'pip install -q -e ".[test]" && python -m pytest -q' in text


def test_the_project_speaks_of_itself_alone():
    files = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.toml", "*.json", "*.sh", ".ci/*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    this = os.path.relpath(__file__, ROOT)
    found = []
    for name in files:
        if name == this or not os.path.exists(os.path.join(ROOT, name)):
            continue
        for number, line in enumerate(open(os.path.join(ROOT, name), encoding="utf-8"), 1):
            if CIRCUMSTANCES.search(line):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_the_circumstance_check_catches_its_words():
    # Spelled in pieces, so that this file does not use the words it looks for.
    words_used = (
        "see iss" + "ue 15",
        "from earlier sess" + "ions",
        "a le" + "nt GPU",
        "../sha" + "red/x",
    )
    for words in words_used:
        assert CIRCUMSTANCES.search(words), words
    for words in ('scope="session"', "session.run(x)", "talent"):
        assert not CIRCUMSTANCES.search(words), words


def test_the_readme_preset_table_says_what_each_preset_is():
    """One row per preset of colorization.core.presets, none more, each with its own
    training size S×S (and its trunk, where it is MobileNetV2)."""
    from colorization.core.presets import PRESETS

    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", text, re.M))
    assert set(rows) == set(PRESETS), sorted(rows)
    for name, config in PRESETS.items():
        size = config.model.image_size
        assert f"{size}×{size}" in rows[name], (name, rows[name])
        if config.model.backbone == "mobilenet_v2":
            assert "MobileNetV2" in rows[name], (name, rows[name])


def test_the_documents_quote_no_test_counts():
    """How many tests a run had drifts with every change: the documents say how to run the
    suite and about how long it takes, not how many tests it held."""
    pattern = re.compile(r"\b\d{2,4} (tests|passed)\b")
    quoted = {
        os.path.relpath(path, ROOT): pattern.findall(open(path, encoding="utf-8").read())
        for path in _documents()
    }
    assert not {k: v for k, v in quoted.items() if v}, quoted
