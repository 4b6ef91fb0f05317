"""Layering: pynetdicom is subclassed and patched only in tuipacs/dicom/transport/.

The transport package may use pynetdicom's private names (and pins pynetdicom < 3.1 for
that); everything else in tuipacs uses pynetdicom's public API and the transport's. Checked
on the source (ast), so that a patch cannot creep back elsewhere:

* no import of a private pynetdicom module or name (``pynetdicom._config``,
  ``from pynetdicom import _config``, ``from pynetdicom.sop_class import _STORAGE_CLASSES``);
* no import of pynetdicom's internal layers (DUL, state machine, DIMSE provider and
  messages, ACSE, sockets, timers, PDUs);
* no class derived from a pynetdicom class (``DULServiceProvider``, ``AssociationSocket``,
  ``ApplicationEntity``...);
* no assignment to a pynetdicom module's attribute (``_config.X = ...``) or to a method of
  a pynetdicom object (``assoc.send_c_store = ...``, ``dul.__class__ = ...``);
* no use of a private attribute that pynetdicom defines (``assoc._get_valid_context``,
  ``ae._servers``, ``cx._transfer_syntax``...), unless the module defines that name itself.

The last two rules apply to tuipacs/dicom/ and to any module that imports pynetdicom (where
pynetdicom's objects are handled), so that the screens' own private names are left alone.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pynetdicom

PACKAGE = Path(__file__).resolve().parents[2] / "tuipacs"
TRANSPORT = PACKAGE / "dicom" / "transport"
PYNETDICOM = Path(pynetdicom.__file__).parent
#: pynetdicom's layers below the association: only the transport may touch them.
INTERNAL = {
    "pynetdicom.acse",
    "pynetdicom.dimse",
    "pynetdicom.dimse_messages",
    "pynetdicom.dul",
    "pynetdicom.fsm",
    "pynetdicom.pdu",
    "pynetdicom.pdu_items",
    "pynetdicom.timer",
    "pynetdicom.transport",
    "pynetdicom.utils",
}


@functools.cache
def pynetdicom_names() -> tuple[frozenset[str], frozenset[str]]:
    """(private attribute names pynetdicom defines, method names of its classes)."""
    private: set[str] = set()
    methods: set[str] = set()
    for path in PYNETDICOM.rglob("*.py"):
        if "tests" in path.relative_to(PYNETDICOM).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                private.add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if _is_private(node.name):
                    private.add(node.name)
            elif isinstance(node, ast.ClassDef):
                methods.update(
                    item.name
                    for item in node.body
                    if isinstance(item, ast.FunctionDef) and not _is_property(item)
                )
    return frozenset(private), frozenset(methods | {"__class__"})


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_property(node: ast.FunctionDef) -> bool:
    for decorator in node.decorator_list:
        text = ast.unparse(decorator)
        if text == "property" or text.endswith((".setter", ".getter", ".deleter")):
            return True
    return False


def _own_names(tree: ast.AST) -> set[str]:
    """Names a module defines itself (its functions, classes, methods, self.attributes)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def violations(path: Path) -> list[str]:
    """What in one module uses pynetdicom the way only the transport may."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    private, methods = pynetdicom_names()
    own = _own_names(tree)
    modules: set[str] = set()  # local names bound to pynetdicom modules
    classes: set[str] = set()  # local names bound to anything imported from pynetdicom
    found: list[str] = []

    where = path.relative_to(PACKAGE.parent) if PACKAGE in path.parents else path.name

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "pynetdicom":
                    continue
                modules.add(alias.asname or alias.name.split(".")[0])
                if any(_is_private(part) for part in alias.name.split(".")):
                    say(node, f"imports the private module {alias.name}")
                if alias.name in INTERNAL:
                    say(node, f"imports pynetdicom's internal layer {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pynetdicom"):
            module = node.module or ""
            if any(_is_private(part) for part in module.split(".")):
                say(node, f"imports from the private module {module}")
            if module in INTERNAL:
                say(node, f"imports from pynetdicom's internal layer {module}")
            for alias in node.names:
                local = alias.asname or alias.name
                if _is_private(alias.name):
                    say(node, f"imports the private name {module}.{alias.name}")
                if (PYNETDICOM / f"{alias.name}.py").exists() and module == "pynetdicom":
                    modules.add(local)
                else:
                    classes.add(local)
    handles = bool(modules or classes) or (PACKAGE / "dicom") in path.parents
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                root = base.value if isinstance(base, ast.Attribute) else base
                if isinstance(root, ast.Name) and (root.id in classes or root.id in modules):
                    say(node, f"class {node.name} derives from pynetdicom's {ast.unparse(base)}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not isinstance(target, ast.Attribute):
                    continue
                owner = target.value
                if isinstance(owner, ast.Name) and owner.id in modules:
                    say(node, f"patches pynetdicom: {ast.unparse(target)} = ...")
                elif handles and target.attr in methods and target.attr not in own:
                    say(node, f"replaces a pynetdicom method: {ast.unparse(target)} = ...")
        elif isinstance(node, ast.Attribute) and node.attr in private and node.attr not in own:
            if handles:
                say(node, f"uses pynetdicom's private {ast.unparse(node)}")
    return found


def test_only_the_transport_touches_pynetdicom_internals() -> None:
    files = [p for p in PACKAGE.rglob("*.py") if TRANSPORT not in p.parents]
    assert len(files) > 20
    found = [line for path in sorted(files) for line in violations(path)]
    assert found == []


def test_the_check_sees_what_it_forbids(tmp_path: Path) -> None:
    """Each rule catches its case (this is how the old tuipacs/dicom/net.py and scp.py
    used pynetdicom), and public use of pynetdicom passes."""
    bad = tmp_path / "old_net.py"
    source = (
        "from pynetdicom import _config, dimse_messages, evt\n"
        "from pynetdicom._handlers import standard_pdu_recv_handler\n"
        "from pynetdicom.dul import DULServiceProvider\n"
        "from pynetdicom.sop_class import _STORAGE_CLASSES\n"
        "from pynetdicom.ae import ApplicationEntity\n"
        "import pynetdicom.fsm\n"
        "class Fast(DULServiceProvider):\n    pass\n"
        "class AE(ApplicationEntity):\n    pass\n"
        "_config.STORE_RECV_CHUNKED_DATASET = True\n"
        "dimse_messages.NamedTemporaryFile = open\n"
        "def tune(assoc, ae, cx):\n"
        "    assoc.send_c_store = print\n"
        "    assoc.dul.__class__ = Fast\n"
        "    ae._servers.append(1)\n"
        "    return assoc._get_valid_context('1.2', '', 'scu'), cx._transfer_syntax\n"
    )
    bad.write_text(source, encoding="utf-8")
    found = violations(bad)
    expected = [
        "private name pynetdicom._config",
        "private module pynetdicom._handlers",
        "internal layer pynetdicom.dul",
        "private name pynetdicom.sop_class._STORAGE_CLASSES",
        "internal layer pynetdicom.fsm",
        "class Fast derives",
        "class AE derives",
        "patches pynetdicom: _config.STORE_RECV_CHUNKED_DATASET",
        "patches pynetdicom: dimse_messages.NamedTemporaryFile",
        "replaces a pynetdicom method: assoc.send_c_store",
        "replaces a pynetdicom method: assoc.dul.__class__",
        "private ae._servers",
        "private assoc._get_valid_context",
        "private cx._transfer_syntax",
    ]
    missing = [e for e in expected if not any(e in line for line in found)]
    assert missing == [], found
    public = tmp_path / "public.py"
    public.write_text(
        "from pynetdicom import evt\nfrom pynetdicom.presentation import build_context\n"
        "def f(assoc):\n    return assoc.send_c_echo(), build_context('1.2'), evt.EVT_C_STORE\n",
        encoding="utf-8",
    )
    assert violations(public) == []
