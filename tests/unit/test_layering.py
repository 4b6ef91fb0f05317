"""Layering rules: nothing outside tuipacs/app imports textual (tuipacs/view in particular);
the store imports nothing of the network (tuipacs.dicom) or of the server (tuipacs.server)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tuipacs"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_textual_outside_app() -> None:
    offenders = []
    files = [p for p in PACKAGE.rglob("*.py") if "app" not in p.relative_to(PACKAGE).parts]
    assert files, "no modules found outside tuipacs/app"
    for path in files:
        bad = _imports(path) & {"textual", "textual_image"}
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad)}")
    assert offenders == []


def test_view_is_textual_free() -> None:
    """The viewer's model (tuipacs/view) imports no Textual, directly or through tuipacs.app."""
    files = sorted((PACKAGE / "view").rglob("*.py"))
    assert len(files) > 5, "tuipacs/view is missing"
    offenders = []
    for path in files:
        names = _imports(path)
        bad = names & {"textual", "textual_image"}
        if bad or _imports_app(path):
            offenders.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad) or 'tuipacs.app'}")
    assert offenders == []
    code = (
        "import sys, pkgutil, importlib, tuipacs.view\n"
        "for m in pkgutil.walk_packages(tuipacs.view.__path__, 'tuipacs.view.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'textual_image'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _tuipacs_imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """The tuipacs modules ``path`` (a file of the package at ``root``) imports, as
    ``tuipacs.x.y``, relative imports resolved; ``from m import n`` gives m and m.n."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("tuipacs", *path.relative_to(root).parent.parts))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "tuipacs" or name.startswith("tuipacs.")}


NETWORK_OR_SERVER = ("tuipacs.dicom", "tuipacs.server")


def _reaches(names: set[str], packages: tuple[str, ...] = NETWORK_OR_SERVER) -> set[str]:
    """The names that are, or lie inside, one of ``packages``."""
    return {n for n in names for p in packages if n == p or n.startswith(p + ".")}


def test_store_imports_no_network_and_no_server() -> None:
    """tuipacs/store is the archive alone: no tuipacs.dicom, no tuipacs.server, no pynetdicom,
    directly or through what it imports."""
    files = sorted((PACKAGE / "store").rglob("*.py"))
    assert len(files) > 5, "tuipacs/store is missing"
    offenders = []
    for path in files:
        bad = _reaches(_tuipacs_imports(path)) | (_imports(path) & {"pynetdicom"})
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad)}")
    assert offenders == []
    code = (
        "import sys, pkgutil, importlib, tuipacs.store\n"
        "for m in pkgutil.walk_packages(tuipacs.store.__path__, 'tuipacs.store.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('tuipacs.dicom', 'tuipacs.server'))"
        " or m.split('.')[0] == 'pynetdicom'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "from tuipacs.dicom.scp_types import Level\n",
            {"tuipacs.dicom.scp_types", "tuipacs.dicom.scp_types.Level"},
        ),
        ("from ..server import qr\n", {"tuipacs.server", "tuipacs.server.qr"}),
        ("from .. import dicom\n", {"tuipacs.dicom"}),
        ("import tuipacs.dicom.nodes\n", {"tuipacs.dicom.nodes"}),
        ("from . import identity\nimport tuipacs.config\n", set()),
    ],
)
def test_the_store_check_sees_every_form_of_import(
    tmp_path: Path, text: str, found: set[str]
) -> None:
    """The scan finds absolute and relative imports of the network or the server."""
    fake = tmp_path / "tuipacs" / "store" / "probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(text, encoding="utf-8")
    assert _reaches(_tuipacs_imports(fake, tmp_path / "tuipacs")) == found


def _imports_app(path: Path) -> bool:
    """True when ``path`` imports anything from tuipacs.app."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tuipacs.app"):
            return True
        if isinstance(node, ast.Import) and any(
            alias.name.startswith("tuipacs.app") for alias in node.names
        ):
            return True
    return False


def test_core_packages_import_without_textual() -> None:
    code = (
        "import sys, tuipacs.dicom, tuipacs.store, tuipacs.imaging, tuipacs.config, "
        "tuipacs.locations, tuipacs.cli, tuipacs.remote, tuipacs.remote.dimse, tuipacs.server, "
        "tuipacs.demo.load; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'textual_image'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_app_start_up_path_leaves_pydicom_and_the_pixel_pipeline_for_later() -> None:
    """Opening the archive and building the app (what `tuipacs` does before the browser is
    listed) imports neither pydicom (~0.3 s) nor the pixel pipeline of tuipacs.imaging: they
    load on first use. Only the resampling of display arrays (numpy and Pillow) is there."""
    code = (
        "import sys\n"
        "from tuipacs.app.main import run_app\n"
        "from tuipacs.store.archive import Archive\n"
        "from tuipacs.app.app import build_app\n"
        "from tuipacs.app.screens.browser import BrowserScreen\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydicom', 'pynetdicom'}),"
        " sorted(m for m in sys.modules if m.startswith('tuipacs.imaging.')"
        " and m != 'tuipacs.imaging.resample'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"
