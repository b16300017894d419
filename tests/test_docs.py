"""Issue #24: people can find their way in the docs, and the docs say what is true.

The README stays short and every relative link in it resolves (file and
anchor); the MkDocs site under docs/ builds with warnings as errors (a broken
link or anchor, a page missing from nav); the security page's facts are
checked against the files they describe.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers.wheels import REPO

README = REPO / "README.md"
SECURITY_PAGE = REPO / "docs" / "security.md"
README_LIMIT = 15_000

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def prose(markdown: str) -> str:
    """The text outside fenced blocks and inline code, where links live."""
    return _INLINE_CODE.sub("", _FENCE.sub("", markdown))


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip())
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", _FENCE.sub("", markdown.read_text()), re.M)
    return {github_anchor(h) for h in headings}


def test_readme_is_at_most_15000_characters() -> None:
    text = README.read_text()
    assert len(text) <= README_LIMIT, "README.md has %d characters; move detail into docs/" % len(text)


def test_every_relative_link_in_the_readme_resolves() -> None:
    links = _LINK.findall(prose(README.read_text()))
    relative = [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]
    assert len(relative) >= 10, relative  # the README points into docs/
    broken = []
    for link in relative:
        path, _, anchor = link.partition("#")
        target = (REPO / path).resolve() if path else README
        if not target.exists() or REPO not in target.parents and target != REPO:
            broken.append("%s: no such file" % link)
        elif anchor and (target.suffix != ".md" or anchor not in anchors(target)):
            broken.append("%s: no heading with that anchor" % link)
    assert not broken, broken


def test_readme_links_every_docs_page_and_the_security_policy() -> None:
    linked = {link.partition("#")[0] for link in _LINK.findall(prose(README.read_text()))}
    pages = {"docs/" + p.name for p in (REPO / "docs").glob("*.md")}
    assert pages <= linked, sorted(pages - linked)
    assert "SECURITY.md" in linked and (REPO / "SECURITY.md").is_file()


def test_readme_first_block_holds_the_test_command_ci_runs_verbatim() -> None:
    first_block = _FENCE.search(README.read_text())
    assert first_block is not None
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    command = ci_lines[ci_lines.index("# The README's test command, verbatim:") + 1]
    assert command in first_block.group(0).splitlines()


def test_readme_keeps_the_demo_command_a_quick_start_and_the_company_rollout() -> None:
    first_block = _FENCE.search(README.read_text())
    assert first_block is not None
    assert any(line.endswith("/bin/cert-session demo") and "pip install '.[demo]'" in line for line in first_block.group(0).splitlines())
    assert {"quick-start-five-minutes", "for-companies-ship-your-certificate", "documentation"} <= anchors(README)


def test_the_docs_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(REPO / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ("user-guide", "company-rollout", "reference", "troubleshooting", "security", "design"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page


def test_troubleshooting_starts_from_the_messages_users_see() -> None:
    headings = re.findall(r"^## (.*)$", (REPO / "docs" / "troubleshooting.md").read_text(), re.M)
    for message in (
        "unable to get local issuer certificate",
        "self-signed certificate in certificate chain",
        "Basic Constraints of CA cert not marked critical",
    ):
        assert any(message in h for h in headings), (message, headings)


def test_security_policy_gives_supported_versions_private_reporting_and_what_counts() -> None:
    policy = REPO / "SECURITY.md"
    assert {"supported-versions", "reporting-a-vulnerability", "what-counts-as-a-vulnerability"} <= anchors(policy)
    text = " ".join(policy.read_text().split())
    assert "privately" in text and "Report a vulnerability" in text
    for kind in ("trust what it shouldn't", "run code it didn't ship", "fail to start"):
        assert kind in text, kind


def test_security_page_covers_what_a_security_team_asks() -> None:
    assert {
        "what-runs-at-start-up",
        "what-it-reads",
        "what-it-writes-and-where",
        "it-never-opens-a-network-connection",
        "which-files-the-wheel-installs",
        "verify-a-release",
        "rebuild-a-release-and-compare",
        "what-endpoint-security-tools-will-report-at-install-time",
    } <= anchors(SECURITY_PAGE)
    text = SECURITY_PAGE.read_text()
    assert "import cert_session_hook" in text and "--require-hashes" in text and "attestation" in text


def test_security_page_gives_the_real_start_up_files_and_their_digests() -> None:
    page = SECURITY_PAGE.read_text()
    for name in ("cert_session_hook.pth", "cert_session_hook.start"):
        data = (REPO / name).read_bytes()
        row = re.search(r"^\| `%s` \| (\d+) \| .* \| `([0-9a-f]{64})` \|$" % re.escape(name), page, re.M)
        assert row is not None, name
        assert int(row.group(1)) == len(data) and row.group(2) == hashlib.sha256(data).hexdigest(), name
    assert (REPO / "cert_session_hook.pth").read_text() == "import cert_session_hook\n"


@pytest.mark.slow
def test_security_page_lists_exactly_the_files_the_wheel_installs(bare_wheel: Path) -> None:
    section = SECURITY_PAGE.read_text().split("## Which files the wheel installs", 1)[1]
    block = _FENCE.search(section)
    assert block is not None
    listed = block.group(0).splitlines()[1:-1]
    version = bare_wheel.name.split("-")[1]
    with zipfile.ZipFile(bare_wheel) as whl:
        shipped = whl.namelist()
    assert sorted(n.replace("<version>", version) for n in listed) == sorted(shipped)
