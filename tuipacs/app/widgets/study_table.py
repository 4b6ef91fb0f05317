"""The browser's study table: the studies of the archive, filtered as you type and sorted.

Also the filter line and the row-cursor table the browser's three tables share. Matching
and sorting ignore case and accents (:func:`tuipacs.view.format.fold`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable, Input
from textual.widgets.data_table import ColumnKey

from tuipacs.app.keymap import Key
from tuipacs.safe_text import clean
from tuipacs.store.query import StudyRow
from tuipacs.view import format as fmt
from tuipacs.view.columns import Column, fit_columns


@dataclass(frozen=True)
class SortKey:
    """A sort order of the study table: a label and how to get the key from a row."""

    label: str
    column: str
    descending: bool


SORTS = (
    SortKey("study date", "date", True),
    SortKey("patient name", "name", False),
    SortKey("patient ID", "id", False),
    SortKey("modality", "modality", False),
    SortKey("description", "description", False),
    SortKey("images", "images", True),
)

#: the columns in the order they show: key, header, preferred width (in cells) and how far
#: each may shrink or grow (:mod:`tuipacs.view.columns`); a longer value is cut with "…",
#: and a sortable column is never narrower than its header and the sort arrow
STUDY_LAYOUT = (
    Column("name", "Patient", 26, minimum=14, grow=1, limit=40),
    Column("id", "Patient ID", 12),
    Column("birth", "Birth date", 10),
    Column("sex", "Sex", 3),
    Column("date", "Study date", 16),
    Column("modality", "Mod", 7, minimum=5),
    Column("description", "Description", 34, minimum=16, grow=2),
    Column("accession", "Accession", 16),  # an accession number (SH) has up to 16 characters
    Column("referring", "Referring", 20, minimum=12),
    Column("series", "Ser", 4),
    Column("images", "Images", 8),
    Column("pinned", "Pin", 3),
)

STUDY_PRIORITY = (
    "name", "date", "modality", "description", "images",  # always, even at 80 columns
    "id", "pinned", "series", "birth", "accession",  # then these, as room allows
    "referring", "sex",  # only on a wide terminal
)  # fmt: skip
"""The study columns, most important first: a narrow table drops them from the end."""

STUDY_KEEP = 5
"""The first columns of STUDY_PRIORITY always show (shrunk on a narrow terminal)."""

#: key, header and preferred width of each column (what the table shows when it is wide)
STUDY_COLUMNS = tuple((c.key, c.label, c.width) for c in STUDY_LAYOUT)
STUDY_KEYS = tuple(c.key for c in STUDY_LAYOUT)

#: the arrows marking the sort column's header: ascending, descending
SORT_ARROWS = ("▲", "▼")

INCOMPLETE_MARK = "!"
"""Before the Images cell (``!69/300``) of a study with fewer images here than its node
said when it was retrieved."""


def images_cell(row: StudyRow) -> str:
    """The Images cell: ``300``, or ``!69/300`` for a study retrieved only in part."""
    if row.complete is False:
        return f"{INCOMPLETE_MARK}{row.num_instances}/{row.known_instances}"
    return str(row.num_instances)


def resumable(row: StudyRow | None) -> bool:
    """Is ``row`` a study retrieved only in part, from a node it names?"""
    return row is not None and row.complete is False and bool(row.known_node)


def sort_value(row: StudyRow, column: str) -> tuple[object, ...]:
    """The sort key of ``row`` for ``column`` (ties broken by date and UID); text sorts
    ignoring case and accents, so ``Öztürk`` comes before ``Peters``."""
    values: dict[str, object] = {
        "date": row.study_date + row.study_time,
        "name": fmt.fold(row.patient_name),
        "id": fmt.fold(row.patient_id),
        "modality": row.modalities,
        "description": fmt.fold(row.description),
        "images": row.num_instances,
    }
    return (values[column], row.study_date, row.study_uid)


def search_text(row: StudyRow) -> str:
    """What the filter searches in a study: its patient name (as stored, with its parts
    separated by spaces, and as shown), patient ID, accession and description, folded
    (:func:`tuipacs.view.format.fold`) so that matching ignores case and accents."""
    name = row.patient_name
    parts = name.replace("^", " ").replace("=", " ")
    fields = (name, parts, fmt.person_name(name), row.patient_id, row.accession, row.description)
    return fmt.fold(" ".join(fields))


def filter_words(text: str) -> list[str]:
    """The words of a filter, folded like :func:`search_text`."""
    return fmt.fold(text).split()


def has_words(haystack: str, words: list[str]) -> bool:
    """Does every one of ``words`` (from :func:`filter_words`) occur in ``haystack``?"""
    return all(word in haystack for word in words)


def matches(row: StudyRow, text: str) -> bool:
    """Does every word of ``text`` occur in the name, ID, accession or description?

    Case and accents are ignored: ``muller`` and ``MÜLLER`` find ``Müller^Jürgen``.
    """
    return has_words(search_text(row), filter_words(text))


def fit_cells(values: tuple[str, ...], columns: tuple[tuple[str, str, int], ...]) -> list[Text]:
    """Cells for a table row: each value cleaned (:func:`tuipacs.safe_text.clean`: no
    control, escape sequence or bidi override reaches the terminal), cut to its column's
    width with a final "…", and as plain text (``T1 [Gd]`` is not read as Rich markup)."""
    return [
        Text(fmt.clip(clean(value), width), no_wrap=True, overflow="ellipsis", end="")
        for value, (_key, _label, width) in zip(values, columns, strict=True)
    ]


def study_cells(row: StudyRow, masked: bool = False) -> tuple[str, ...]:
    """The cells of a study row, in STUDY_COLUMNS order (``masked``: no name, ID, birth
    date or sex)."""
    date = fmt.dicom_date(row.study_date)
    if row.study_time:
        date = f"{date} {fmt.dicom_time(row.study_time)}"
    return (
        fmt.MASK if masked else fmt.person_name(row.patient_name),
        fmt.MASK if masked else row.patient_id,
        fmt.MASK if masked else fmt.dicom_date(row.birth_date),
        fmt.MASK if masked else row.sex,
        date,
        fmt.modalities(row.modalities),
        row.description,
        row.accession,
        fmt.person_name(row.referring),
        str(row.num_series),
        images_cell(row),
        "*" if row.pinned else "",
    )


def fit_table(
    table: DataTable[Text | str],
    layout: tuple[Column, ...],
    priority: tuple[str, ...],
    rows: int,
    keep: int,
) -> list[tuple[str, str, int]]:
    """The columns of ``layout`` that fit ``table``'s width (:func:`fit_columns`; the first
    ``keep`` of ``priority`` always show), with room for the vertical scroll bar when its
    ``rows`` overflow its height."""
    width = table.size.width
    if not width:  # not laid out yet: every column at its preferred width
        return [(c.key, c.label, c.width) for c in layout]
    header = 1 if table.show_header else 0
    if rows > table.size.height - header:
        width -= table.styles.scrollbar_size_vertical
    return fit_columns(layout, priority, width, 2 * table.cell_padding, keep)


class BrowserTable(DataTable[Text | str]):
    """A row-cursor table of the browser: Home and End go to the first and last row (the
    plain DataTable scrolls sideways); PageUp and PageDown move a page (as in DataTable)."""

    BINDINGS = [
        Key("up", "cursor_up", "Up", show=False, section="Open", tooltip="move in the table"),
        Key("down", "cursor_down", "Down", show=False, section="Open", tooltip="move in the table"),
        Key(
            "home",
            "scroll_top",
            "First row",
            show=False,
            section="Open",
            tooltip="first / last row",
        ),
        Key(
            "end",
            "scroll_bottom",
            "Last row",
            show=False,
            section="Open",
            tooltip="first / last row",
        ),
        Key("pageup", "page_up", "Page up", show=False, section="Open", tooltip="a page up / down"),
        Key(
            "pagedown",
            "page_down",
            "Page down",
            show=False,
            section="Open",
            tooltip="a page up / down",
        ),
        Key(
            "enter",
            "select_cursor",
            "Select",
            show=False,
            section="Open",
            tooltip="open the study (first series) or the selected series",
        ),
    ]


class FilterInput(Input):
    """The filter line: Enter or Down go back to the studies, Escape clears it first."""

    BINDINGS = [
        Key(
            "enter",
            "submit",
            "Done",
            show=False,
            section="Find",
            tooltip="from the filter: back to the studies",
        ),
        Key(
            "down",
            "submit",
            "Done",
            show=False,
            section="Find",
            tooltip="from the filter: back to the studies",
        ),
        Key(
            "escape",
            "clear",
            "Clear",
            show=False,
            section="Find",
            tooltip="from the filter: clear it",
        ),
    ]

    async def action_clear(self) -> None:
        """Empty the filter and go back to the studies."""
        self.value = ""
        await self.action_submit()


class StudyTable(BrowserTable):
    """Every study of the archive through the filter, in the chosen order; the cursor
    follows a study by its UID when the list changes. ``c`` on a study retrieved only in
    part asks (:class:`StudyTable.Resume`) for the rest from the node it came from."""

    BINDINGS = [
        Key("c", "resume", "Complete", section="Remote node",
            tooltip="on a study retrieved only in part (Images !n/N): retrieve the missing "
            "images from the node it came from"),
    ]  # fmt: skip

    class Resume(Message):
        """Retrieve the images of ``study_uid`` that are not here from ``node``."""

        def __init__(self, study_uid: str, node: str) -> None:
            super().__init__()
            self.study_uid = study_uid
            self.node = node

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.all_studies: list[StudyRow] = []
        self.search_texts: dict[str, str] = {}
        self.shown: list[StudyRow] = []
        """The studies in the table, in its order."""
        self.sort_index = 0
        self.sort_reversed = False
        self.masked = False
        """Patient identity masked (the session's mask)."""
        self.shown_columns: list[tuple[str, str, int]] = []
        """The columns shown: key, header, width (:func:`fit_table`)."""

    def on_mount(self) -> None:
        """The columns for the width, the sort column marked."""
        self.fit_width()

    def on_resize(self) -> None:
        """Columns for the new width (fewer and narrower ones on a small terminal)."""
        self.fit_width()

    def fit_width(self) -> None:
        """Choose the columns for the table's width; rebuild the table if they changed."""
        columns = fit_table(self, STUDY_LAYOUT, STUDY_PRIORITY, len(self.shown), STUDY_KEEP)
        if columns != self.shown_columns:
            current = self.current_study()
            self.shown_columns = columns
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(label, key=key, width=width)
            self.label_columns()
            self._add_rows(current)

    @property
    def sort_key(self) -> SortKey:
        """The sort order."""
        return SORTS[self.sort_index]

    @property
    def descending(self) -> bool:
        """True when the rows run from the highest value down."""
        return self.sort_key.descending != self.sort_reversed

    def set_studies(self, rows: list[StudyRow]) -> None:
        """A new listing of the archive (shown through the filter by :meth:`fill`)."""
        self.all_studies = rows
        self.search_texts = {row.study_uid: search_text(row) for row in rows}

    def fill(self, filter_text: str) -> None:
        """Show the studies matching ``filter_text``, sorted; keep the cursor's study."""
        words = filter_words(filter_text)
        rows = [
            r
            for r in self.all_studies
            if has_words(self.search_texts.get(r.study_uid) or search_text(r), words)
        ]
        sort = self.sort_key
        rows.sort(key=lambda r: sort_value(r, sort.column), reverse=self.descending)
        previous = self.current_study()
        self.shown = rows
        self.fit_width()  # a scroll bar may come or go with the number of rows
        self._add_rows(previous)
        self.refresh_bindings()  # c is shown for an incomplete study only

    def _add_rows(self, previous: StudyRow | None = None) -> None:
        """Put the shown studies in the table; the cursor stays on ``previous`` (default:
        the study under it) if it is still shown."""
        previous = previous or self.current_study()
        self.clear()
        keys = [key for key, _label, _width in self.shown_columns]
        for row in self.shown:
            cells = dict(zip(STUDY_KEYS, study_cells(row, self.masked), strict=True))
            values = tuple(cells[key] for key in keys)
            self.add_row(*fit_cells(values, tuple(self.shown_columns)), key=row.study_uid)
        # follow the study by its UID: a new listing (after a pin, say) has new rows
        uids = [row.study_uid for row in self.shown]
        if previous is not None and previous.study_uid in uids:
            self.move_cursor(row=uids.index(previous.study_uid))

    def cycle_sort(self) -> None:
        """Sort by the next column."""
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.sort_reversed = False
        self.label_columns()

    def reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.sort_reversed = not self.sort_reversed
        self.label_columns()

    def label_columns(self) -> None:
        """Mark the sort column's header with an arrow."""
        sort, arrow = self.sort_key, SORT_ARROWS[self.descending]
        for key, label, _width in self.shown_columns:
            column = self.columns[ColumnKey(key)]
            column.label = Text(f"{label} {arrow}" if key == sort.column else label)
        self.refresh()

    def on_data_table_row_highlighted(self) -> None:
        """Show c in the footer when the highlighted study is incomplete (the message goes
        on to the browser)."""
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """c only on a study retrieved only in part."""
        if action == "resume":
            return resumable(self.current_study())
        return super().check_action(action, parameters)

    def action_resume(self) -> None:
        """Ask for the missing images of the highlighted study."""
        study = self.current_study()
        if study is not None and resumable(study):
            self.post_message(self.Resume(study.study_uid, study.known_node))

    def current_study(self) -> StudyRow | None:
        """The study under the cursor."""
        if not self.shown or not 0 <= self.cursor_row < len(self.shown):
            return None
        return self.shown[self.cursor_row]

    def status(self) -> str:
        """The status line: how many studies, sorted how."""
        total, shown = len(self.all_studies), len(self.shown)
        order = "descending" if self.descending else "ascending"
        count = f"{shown} of {total} studies" if shown != total else f"{total} studies"
        label = self.sort_key.label
        return f"{count} · sorted by {label}, {order} · Enter opens · / filters · s sorts"
