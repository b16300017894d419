"""Issue #24: anyone can rebuild a release and get the same bytes PyPI has.

The project's wheel is built twice, from two fresh copies of the tree whose
files carry different times (as two checkouts made at different moments
would), with SOURCE_DATE_EPOCH set from the commit as the release workflow
sets it: once as the release workflow builds it (``python -m build``: the
sdist, then the wheel from the sdist) and once as someone checking a release
would (``python -m build --wheel``, from the tree); a company wheel is built twice by ``cert-session package`` from the
same inputs. Each pair must be byte-identical. docs/security.md tells people
how to do the same with a published release.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from cert_session import _startup_files
from tests.conftest import World
from tests.helpers import wheels
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import Venv

pytestmark = pytest.mark.slow


def _fresh_copy(dest: Path, mtime: float) -> Path:
    """The tree as a checkout made at ``mtime`` would hold it."""
    src = wheels.project_copy(dest)
    for root, dirs, files in os.walk(src):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (mtime, mtime))
    return src


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_project_wheel_rebuilt_from_a_fresh_checkout_is_byte_identical_to_the_release_build(tmp_path: Path) -> None:
    epoch = wheels.source_date_epoch()
    built = []
    for n, mtime in enumerate((time.time() - 86400, time.time())):
        src = _fresh_copy(tmp_path / ("checkout-%d" % n) / "cert-session", mtime)
        env = clean_env(tmp_path / ("home-%d" % n), SOURCE_DATE_EPOCH=epoch)
        built.append(wheels.build_release_wheel(src, tmp_path / ("dist-%d" % n), env, via_sdist=n == 0))
    release, rebuilt = built
    assert release.name == rebuilt.name
    assert release.read_bytes() == rebuilt.read_bytes(), (_sha256(release), _sha256(rebuilt))
    # The times in the archive are the commit's, not the checkout's or the build's.
    stamp = time.gmtime(max(int(epoch), 315532800))  # zip cannot go before 1980
    zip_stamp = tuple(stamp[:5]) + (stamp[5] // 2 * 2,)  # and counts seconds in twos
    with zipfile.ZipFile(release) as whl:
        assert {info.date_time for info in whl.infolist()} == {zip_stamp}
        # The one start-up file of the building Python's wheel (issue #22: never both).
        _tag, startup, _ = _startup_files.for_version(sys.version_info)
        names = set(whl.namelist())
        assert startup in names and not {_startup_files.PTH, _startup_files.START} - {startup} & names
    # The sdist holds what setup.py reads, so anyone can build the wheel from it.
    (sdist,) = (tmp_path / "dist-0").glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[-1] for n in tar.getnames()}
    assert {"cert_session_hook.pth", "cert_session_hook.start", "cert_session/certs/.gitkeep", "setup.py"} <= names


def test_company_wheel_built_twice_from_the_same_inputs_is_byte_identical(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    issuer = tmp_path / "Issuer.crt"
    issuer.write_bytes(world.company.intermediate_pem.read_bytes())
    outputs = []
    for n in range(2):
        if n:
            time.sleep(1.1)  # a later second: nothing in the wheel may depend on when it was built
        out = tmp_path / ("dist-%d" % n)
        run(
            [installed.script("cert-session"), "package", "--name", "acme-certs", "--cert", str(issuer), "-o", str(out)],
            clean_env(tmp_path / ("home-%d" % n)),
        )
        outputs.append(out)
    names = [sorted(p.name for p in out.iterdir()) for out in outputs]
    assert names[0] == names[1] and len(names[0]) == 3, names
    tags = ["-%s-none-any.whl" % tag for tag, _, _ in _startup_files.VARIANTS]  # one wheel per start-up file
    assert names[0][0] == "acme-certs-bootstrap.pem" and sorted(names[0][1:]) == sorted(
        "acme_certs-%s%s" % (names[0][1].split("-")[1], tag) for tag in tags
    ), names
    for name in names[0]:
        first, second = (out / name for out in outputs)
        assert first.read_bytes() == second.read_bytes(), (name, _sha256(first), _sha256(second))
