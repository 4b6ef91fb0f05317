"""The tag browser: the header of the current image as a searchable tree, sequences included."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree
from textual.widgets.tree import TreeNode

from tuipacs.app.keymap import Key
from tuipacs.app.messages import DatasetLoaded, LoadFailed
from tuipacs.safe_text import clean
from tuipacs.view import format as fmt

VALUE_WIDTH = 96
IDENTITY_KEYWORDS = {
    "OtherPatientIDs",
    "OtherPatientNames",
    "ReferringPhysicianName",
    "InstitutionName",
    "InstitutionAddress",
    "AccessionNumber",
}


@dataclass
class TagEntry:
    """One element of a dataset, flattened to text; sequences hold their items as children."""

    tag: str
    vr: str
    keyword: str
    value: str
    children: list[TagEntry] = field(default_factory=list)

    def label(self) -> Text:
        """The text of the tree node: tag and VR dim, keyword bold, then the value."""
        if not self.tag:
            return Text(self.value, style="italic")
        name = self.keyword or "(private or unknown)"
        return Text.assemble((f"{self.tag} {self.vr:<2} ", "dim"), (name, "bold"), ": ", self.value)

    def matches(self, words: list[str]) -> bool:
        """Does the label contain every search word (ignoring case and accents)?

        ``words`` must be folded already (:func:`tuipacs.view.format.fold`).
        """
        tag = f"{self.tag} {self.tag.replace(',', '')}"
        text = fmt.fold(f"{tag} {self.vr} {self.keyword} {self.value}")
        return all(word in text for word in words)


def _is_identity(elem: DataElement) -> bool:
    return elem.tag.group == 0x0010 or elem.keyword in IDENTITY_KEYWORDS


def value_text(elem: DataElement, mask: bool = False) -> str:
    """A short, one-line text for an element's value, cleaned
    (:func:`tuipacs.safe_text.clean`): the line breaks of a text value (LT, ST, UT) are
    spaces, any other control, escape sequence or bidi override a visible placeholder."""
    if mask and _is_identity(elem):
        return fmt.MASK
    if elem.tag == 0x7FE00010:
        length = getattr(elem, "length", 0) or len(elem.value or b"")
        return f"<pixel data, {length} bytes>"
    value: Any = elem.value
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if elem.VR == "SQ":
        return f"{len(value)} item(s)"
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return fmt.clip(clean(text), VALUE_WIDTH)


def dataset_entries(ds: Dataset, mask: bool = False) -> list[TagEntry]:
    """The elements of ``ds`` (file meta first) as TagEntry trees."""
    entries: list[TagEntry] = []
    meta = getattr(ds, "file_meta", None)
    elements = list(meta) if meta is not None else []
    for elem in elements + list(ds):
        entries.append(_entry(elem, mask))
    return entries


def _entry(elem: DataElement, mask: bool) -> TagEntry:
    tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
    try:
        value = value_text(elem, mask)
    except Exception as exc:  # a broken value shows as such, never as a traceback
        value = fmt.clip(clean(f"<unreadable: {exc}>"), VALUE_WIDTH)
    entry = TagEntry(tag, clean(elem.VR or ""), elem.keyword or "", value)
    if elem.VR == "SQ" and not (mask and _is_identity(elem)):
        for number, item in enumerate(elem.value, 1):
            item_entry = TagEntry("", "", "", f"Item {number}")
            item_entry.children = [_entry(sub, mask) for sub in item]
            entry.children.append(item_entry)
    return entry


def filter_entries(entries: list[TagEntry], text: str) -> list[TagEntry]:
    """Entries matching ``text``, with the sequences and items that lead to a match."""
    words = fmt.fold(text).split()
    if not words:
        return entries
    kept: list[TagEntry] = []
    for entry in entries:
        children = filter_entries(entry.children, text)
        if entry.matches(words):
            kept.append(entry)
        elif children:
            kept.append(TagEntry(entry.tag, entry.vr, entry.keyword, entry.value, children))
    return kept


def count_entries(entries: list[TagEntry]) -> int:
    """Number of elements, nested ones included (items are not counted)."""
    return sum((1 if e.tag else 0) + count_entries(e.children) for e in entries)


class TagSearch(Input):
    """The search line: Enter goes to the tree."""

    BINDINGS = [
        Key(
            "enter",
            "submit",
            "Tree",
            show=False,
            section="Tags",
            tooltip="from the search: to the tree",
        )
    ]


class TagScreen(Screen[None]):
    """Every element of one image's header; type to search."""

    BINDINGS = [
        Key("escape", "close", "Back", section="Tags", tooltip="back to the viewer"),
        # priority: the search line has the focus at first, and must not take the / as text
        Key(
            "slash",
            "focus_search",
            "Search",
            priority=True,
            section="Tags",
            tooltip="back to the search (type: tag numbers, keywords, VRs and values)",
        ),
        Key("e", "expand_all", "Expand all", section="Tags", tooltip="expand every sequence"),
        Key("question_mark", "help", "Help", show=False, section="Tags", tooltip="this help"),
    ]

    def __init__(self, path: Path, title: str = "", mask: bool = False) -> None:
        super().__init__()
        self.path = path
        self.title_text = title
        self.mask = mask
        self.entries: list[TagEntry] = []

    def compose(self) -> ComposeResult:
        """A search line above the tree."""
        title = clean(self.title_text or self.path.name)
        yield Static(title, id="tags-title", markup=False)
        yield TagSearch(placeholder="/  search tag, keyword or value", id="tag-search")
        tree: Tree[None] = Tree("dataset", id="tag-tree")
        tree.show_root = False
        yield tree
        yield Static("reading…", id="tags-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """Read the header in a worker."""
        self.query_one("#tag-search", Input).focus()
        self.read_header()

    @work(thread=True, exclusive=True, group="tags", exit_on_error=False)
    def read_header(self) -> None:
        """Read the file without its pixel data."""
        try:
            ds = dcmread(self.path, stop_before_pixels=False, defer_size="4 KB")
        except Exception as exc:
            self.post_message(LoadFailed("tags", f"cannot read {self.path.name}: {exc}"))
            return
        self.post_message(DatasetLoaded(ds))

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        """Flatten the dataset and show it."""
        self.entries = dataset_entries(message.dataset, self.mask)
        self._show()

    def on_load_failed(self, message: LoadFailed) -> None:
        """One line where the tree would be."""
        self.query_one("#tags-status", Static).update(clean(message.message))

    @on(Input.Changed, "#tag-search")
    def search_changed(self) -> None:
        """Search as you type."""
        self._show()

    @on(Input.Submitted, "#tag-search")
    def search_done(self) -> None:
        """Enter moves to the tree."""
        self.query_one("#tag-tree", Tree).focus()

    def _show(self) -> None:
        text = self.query_one("#tag-search", Input).value
        shown = filter_entries(self.entries, text)
        tree: Tree[None] = self.query_one("#tag-tree", Tree)
        tree.clear()
        expand = bool(text.strip())
        for entry in shown:
            self._add(tree.root, entry, expand)
        total, found = count_entries(self.entries), count_entries(shown)
        status = f"{total} elements" if not text.strip() else f"{found} of {total} elements"
        masked = " · identity masked" if self.mask else ""
        self.query_one("#tags-status", Static).update(f"{status}{masked}")

    def _add(self, parent: TreeNode[None], entry: TagEntry, expand: bool) -> None:
        if not entry.children:
            parent.add_leaf(entry.label())
            return
        node = parent.add(entry.label(), expand=expand)
        for child in entry.children:
            self._add(node, child, expand)

    def action_close(self) -> None:
        """Back to the viewer."""
        self.app.pop_screen()

    def action_focus_search(self) -> None:
        """Put the cursor in the search line; / is typed only into a search already begun."""
        search = self.query_one("#tag-search", Input)
        if search.has_focus and search.value:
            raise SkipAction()  # the key goes on to the search line: "Thorax/Abdomen"
        # at once, not later: keys typed right after the / (one SSH packet) go to it
        self.set_focus(search)

    def action_expand_all(self) -> None:
        """Open every sequence."""
        self.query_one("#tag-tree", Tree).root.expand_all()

    def action_help(self) -> None:
        """Show the keys."""
        from tuipacs.app.screens.help import HelpScreen

        self.app.push_screen(HelpScreen.of(self, "tags", ("Tags",)))
