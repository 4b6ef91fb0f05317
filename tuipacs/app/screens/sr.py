"""The report screen: a Structured Report as a tree of content items, searchable, with its
title, completion and verification flags, observer and date on top.

``/`` searches (every word, ignoring case and accents) and jumps to the first match; ``n`` and
``N`` go to the next and previous match. Enter on an IMAGE item, or on a SCOORD drawn on an
image, opens that image in the viewer when the archive holds it (Esc comes back here). The
tree (:mod:`tuipacs.view.sr`) is read in a worker; its nodes are added to the widget when
their parent is first expanded, so a report of 100 000 items opens at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree
from textual.widgets.tree import TreeNode

from tuipacs.app.keymap import Key
from tuipacs.app.screens.documents import ImageLocation, find_image, open_image
from tuipacs.app.settings import Settings
from tuipacs.safe_text import clean
from tuipacs.store.archive import Archive
from tuipacs.store.query import StudyRow
from tuipacs.view import format as fmt
from tuipacs.view.sr import ImageReference, SrDocument, SrNode, scoord_image, sr_document

EXPAND_ALL_BELOW = 2000
"""Reports with fewer items open fully expanded; larger ones show their first levels."""


@dataclass
class ReportRead(Message):
    """The worker read the report (``doc``) or failed (``error``, one line)."""

    doc: SrDocument | None
    error: str = ""


@dataclass
class ImageFound(Message):
    """A referenced image was looked up: where it is, or None (not in the archive)."""

    reference: ImageReference
    location: ImageLocation | None


def node_label(node: SrNode, masked: bool = False) -> Text:
    """The tree line of a content item: relationship dim, concept bold, value, type dim;
    person names ``***`` while identity is masked (a report may name its subject)."""
    if node.note:
        return Text(node.text(), style="italic")
    relationship = f"{node.relationship.lower()} " if node.relationship else ""
    concept = node.concept or (node.value_type.title() if node.value_type else "")
    text = Text.assemble((relationship, "dim"), (concept, "bold"))
    value = fmt.MASK if masked and node.value_type == "PNAME" else node.value
    if value:
        text.append(f": {value}" if concept else value)
    if node.value_type:
        text.append(f"  [{node.value_type}]", style="dim")
    return text


class SrSearch(Input):
    """The search line: Enter goes to the first match in the tree."""

    BINDINGS = [Key("enter", "submit", "Tree", show=False, section="Report",
                    tooltip="from the search: to the first match")]  # fmt: skip


class SrScreen(Screen[None]):
    """One Structured Report (of a series' reports: the first), as a tree."""

    BINDINGS = [
        Key("escape", "close", "Back", section="Report", tooltip="back to the viewer"),
        Key("slash", "focus_search", "Search", priority=True, section="Report",
            tooltip="search concept names, values, units and references"),
        Key("n", "next_match", "Next", section="Report", tooltip="the next match"),
        Key("N", "previous_match", "Previous", section="Report", tooltip="the previous match"),
        Key("e", "expand_all", "Expand all", section="Report", tooltip="expand every item"),
        Key("bracketright", "document(1)", "Next report", show=False, section="Report",
            tooltip="the next report of the series"),
        Key("bracketleft", "document(-1)", "Previous report", show=False, section="Report",
            tooltip="the previous report of the series"),
        Key("question_mark", "help", "Help", show=False, section="Report", tooltip="this help"),
    ]  # fmt: skip

    def __init__(
        self, archive: Archive, study: StudyRow, paths: list[Path], settings: Settings
    ) -> None:
        super().__init__()
        self.archive = archive
        self.study = study
        self.paths = paths
        self.settings = settings
        self.current = 0
        self.doc: SrDocument | None = None
        self.matches: list[SrNode] = []
        self._parents: dict[int, SrNode] = {}
        self._tree_nodes: dict[int, TreeNode[SrNode]] = {}

    def compose(self) -> ComposeResult:
        """Header, search line, tree, status line, footer."""
        yield Static("reading…", id="sr-header", markup=False)
        yield SrSearch(placeholder="/  search concept, value, unit or reference", id="sr-search")
        tree: Tree[SrNode] = Tree("report", id="sr-tree")
        tree.show_root = False
        yield tree
        yield Static("", id="sr-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """Read the first report."""
        self.query_one("#sr-tree", Tree).focus()
        self.read_report()

    @property
    def masked(self) -> bool:
        """Patient identity (and every person name of the report) masked."""
        return self.settings.session.masked

    @property
    def content_tree(self) -> Tree[SrNode]:
        """The content tree widget."""
        return self.query_one("#sr-tree", Tree)

    @work(thread=True, exclusive=True, group="sr", exit_on_error=False)
    def read_report(self) -> None:
        """Worker: read the file (bounded) and build the tree."""
        from tuipacs.imaging.reading import read_dataset

        path = self.paths[self.current]
        try:
            doc = sr_document(read_dataset(path, header_only=False))
        except RecursionError:
            self.post_message(ReportRead(None, "the report is nested too deeply to be read"))
            return
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.post_message(ReportRead(None, text))
            return
        self.post_message(ReportRead(doc))

    def on_report_read(self, message: ReportRead) -> None:
        """Show the report (or why not)."""
        if message.doc is None:
            self.query_one("#sr-header", Static).update(
                clean(f"cannot show the report: {message.error}")
            )
            return
        self.doc = doc = message.doc
        of = f"  (report {self.current + 1} of {len(self.paths)})" if len(self.paths) > 1 else ""
        observers = doc.observers
        if self.masked:
            doc.observers = [fmt.MASK] if observers else []
        lines = doc.header_lines()
        doc.observers = observers
        lines[0] += of
        self.query_one("#sr-header", Static).update("\n".join(lines))
        self._parents = {id(c): n for n in doc.root.walk() for c in n.children}
        tree = self.content_tree
        tree.clear()
        self._tree_nodes = {}
        self._fill(tree.root, doc.root)
        if doc.count < EXPAND_ALL_BELOW:
            self.action_expand_all()
        else:
            for child in tree.root.children:
                self._expand(child)
        self._status()

    def _fill(self, parent: TreeNode[SrNode], node: SrNode) -> None:
        """Add the children of ``node`` under ``parent`` (once)."""
        if parent.children or not node.children:
            return
        for child in node.children:
            label = node_label(child, self.masked)
            added = parent.add(label, data=child, allow_expand=bool(child.children))
            self._tree_nodes[id(child)] = added

    def _expand(self, tree_node: TreeNode[SrNode]) -> None:
        if tree_node.data is not None:
            self._fill(tree_node, tree_node.data)
        tree_node.expand()

    @on(Tree.NodeExpanded, "#sr-tree")
    def node_expanded(self, event: Tree.NodeExpanded[SrNode]) -> None:
        """Add the children of an item opened for the first time."""
        if event.node.data is not None:
            self._fill(event.node, event.node.data)

    def action_expand_all(self) -> None:
        """Open every item (the whole report is added to the tree)."""
        if self.doc is None:
            return
        stack = list(self.content_tree.root.children)
        while stack:
            tree_node = stack.pop()
            self._expand(tree_node)
            stack.extend(tree_node.children)

    # -- search ------------------------------------------------------------------------------

    @on(Input.Changed, "#sr-search")
    def search_changed(self, event: Input.Changed) -> None:
        """Find the matches as the words are typed."""
        words = fmt.fold(event.value).split()
        if self.doc is None or not words:
            self.matches = []
        else:
            hidden = self.masked  # a masked name is not found by its letters
            self.matches = [
                n
                for n in self.doc.nodes()
                if not n.note and not (hidden and n.value_type == "PNAME") and n.matches(words)
            ]
        self._status()

    @on(Input.Submitted, "#sr-search")
    def search_done(self) -> None:
        """Enter: to the tree, on the first match."""
        self.content_tree.focus()
        if self.matches:
            self.go_to(self.matches[0])

    def go_to(self, node: SrNode) -> None:
        """Expand the way to ``node`` and put the cursor on it."""
        path = [node]
        while id(path[-1]) in self._parents and self._parents[id(path[-1])] is not None:
            parent = self._parents[id(path[-1])]
            if self.doc is not None and parent is self.doc.root:
                break
            path.append(parent)
        for item in reversed(path[1:]):
            tree_node = self._tree_nodes.get(id(item))
            if tree_node is not None:
                self._expand(tree_node)
        target = self._tree_nodes.get(id(node))
        if target is None:
            return
        tree = self.content_tree
        tree.get_node_at_line(0)  # lays out the lines: the target's line is known
        tree.move_cursor(target)
        self._status()

    def _step(self, direction: int) -> None:
        """The next (or previous) match after the cursor, wrapping round."""
        if not self.matches or self.doc is None:
            return
        order = {id(n): i for i, n in enumerate(self.doc.nodes())}
        cursor = self.content_tree.cursor_node
        here = order.get(id(cursor.data), -1) if cursor is not None and cursor.data else -1
        ranked = sorted(self.matches, key=lambda n: order[id(n)])
        if direction > 0:
            found = next((n for n in ranked if order[id(n)] > here), ranked[0])
        else:
            found = next((n for n in reversed(ranked) if order[id(n)] < here), ranked[-1])
        self.go_to(found)

    def action_next_match(self) -> None:
        """The next match."""
        self._step(1)

    def action_previous_match(self) -> None:
        """The previous match."""
        self._step(-1)

    def action_focus_search(self) -> None:
        """Put the cursor in the search line (a / typed in a begun search is kept)."""
        search = self.query_one("#sr-search", Input)
        if search.has_focus and search.value:
            raise SkipAction()
        self.set_focus(search)

    def _status(self, note: str = "") -> None:
        doc = self.doc
        if doc is None:
            return
        text = f"{doc.count} items"
        if self.query_one("#sr-search", Input).value.strip():
            text += f" · {len(self.matches)} match{'es' if len(self.matches) != 1 else ''}"
        if doc.limited:
            text += f" · {doc.limited}"
        if note:
            text += f" · {note}"
        self.query_one("#sr-status", Static).update(clean(text))

    @property
    def status(self) -> str:
        """The status line (for tests)."""
        return str(self.query_one("#sr-status", Static).content)

    # -- references --------------------------------------------------------------------------

    @on(Tree.NodeSelected, "#sr-tree")
    def node_selected(self, event: Tree.NodeSelected[SrNode]) -> None:
        """Enter on an IMAGE (or a SCOORD on an image): open it in the viewer."""
        node = event.node.data
        if node is None or node.value_type not in ("IMAGE", "SCOORD", "COMPOSITE"):
            return
        reference = scoord_image(node)
        if reference is None:
            self._status("this item refers to no image")
            return
        self.look_up(reference)

    @work(thread=True, exclusive=True, group="sr-ref", exit_on_error=False)
    def look_up(self, reference: ImageReference) -> None:
        """Worker: where the referenced image is in the archive."""
        frame = reference.frames[0] if reference.frames else 1
        try:
            location = find_image(self.archive, reference.sop_uid, frame)
        except Exception:  # noqa: BLE001 - an index error reads as "not here"
            location = None
        self.post_message(ImageFound(reference, location))

    def on_image_found(self, message: ImageFound) -> None:
        """Open the viewer at the image, or say it is not here."""
        if message.location is None:
            uid = fmt.clip(clean(message.reference.sop_uid), 64)
            self._status(f"image {uid} is not in the archive (retrieve its study first)")
            return
        open_image(self, self.archive, self.settings, message.location)

    def action_document(self, step: int) -> None:
        """Another report of the same series."""
        target = self.current + step
        if 0 <= target < len(self.paths):
            self.current = target
            self.doc = None
            self.query_one("#sr-header", Static).update("reading…")
            self.read_report()

    def action_help(self) -> None:
        """Show the keys."""
        from tuipacs.app.screens.help import HelpScreen

        self.app.push_screen(HelpScreen.of(self, "report", ("Report",)))

    def action_close(self) -> None:
        """Back to the viewer."""
        self.app.pop_screen()
