"""Put the start-up file at the root of site-packages; ship company certificates whatever their case.

Everything else is declared in setup.cfg. The start-up file is not part of
any package, so setuptools would not ship it: ``build_py`` copies it into
wheels, and ``editable_wheel`` (which does not keep ``build_py``'s output)
adds it to ``pip install -e`` wheels. Both paths are covered by
tests/test_packaging.py.

Which file, and the wheel's tag, depend on the building Python
(cert_session/_startup_files.py says why): ``cert_session_hook.pth`` in a
``py38...py317`` wheel on 3.8 to 3.17, ``cert_session_hook.start`` in a
``py318`` wheel on 3.18 and later. Never both: on 3.15 a ``.start`` file
costs every process the imports of ``pkgutil.resolve_name``.

Package data is listed here, not in setup.cfg: its globs are case-sensitive
on Linux and macOS, so ``certs/*.crt`` silently left ``Issuer.CRT`` out of a
wheel that Windows would have kept it in.
"""

import glob
import os
import runpy
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
# A release uploads both wheels, built from one Python:
# `CERT_SESSION_WHEEL_FOR=3.18 pip wheel .` builds the other one.
WHEEL_FOR = os.environ.get("CERT_SESSION_WHEEL_FOR", "")
TARGET = tuple(int(n) for n in WHEEL_FOR.split(".")) if WHEEL_FOR else tuple(sys.version_info[:2])
# By path: importing cert_session here would need its dependencies installed.
PYTHON_TAG, STARTUP_FILE, _ = runpy.run_path(os.path.join(HERE, "cert_session", "_startup_files.py"))["for_version"](
    TARGET
)
STARTUP_FILES = (STARTUP_FILE,)
# What cert_session/_sources.py reads from cert_session/certs/, compared in lower case there too.
CERT_SUFFIXES = (".pem", ".crt", ".cer")


def package_data():
    """py.typed and every certificate file in cert_session/certs/, .pem/.crt/.cer in any case."""
    certs = os.path.join(HERE, "cert_session", "certs")
    names = sorted(
        n for n in os.listdir(certs) if n.lower().endswith(CERT_SUFFIXES) and not n.startswith(".")
    )
    return {"cert_session": ["py.typed"] + ["certs/" + glob.escape(n) for n in names]}


class build_py_with_startup_files(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:
            for name in STARTUP_FILES:
                self.copy_file(os.path.join(HERE, name), os.path.join(self.build_lib, name))

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if not self.editable_mode:
            outputs += [os.path.join(self.build_lib, name) for name in STARTUP_FILES]
        return outputs


class editable_wheel_with_startup_files(editable_wheel):
    # setuptools has no public hook for extra files at the root of an
    # editable wheel; this method receives the unpacked wheel directory
    # (setuptools >= 64, pinned in pyproject.toml and tested).
    def _install_namespaces(self, installation_dir, pth_prefix):
        super()._install_namespaces(installation_dir, pth_prefix)
        for name in STARTUP_FILES:
            shutil.copyfile(os.path.join(HERE, name), os.path.join(installation_dir, name))


setup(
    package_data=package_data(),
    # Used by bdist_wheel and by editable_wheel, which names its wheel with bdist_wheel's tag.
    options={"bdist_wheel": {"python_tag": PYTHON_TAG}},
    cmdclass={
        "build_py": build_py_with_startup_files,
        "editable_wheel": editable_wheel_with_startup_files,
    }
)
