"""The "Query node" form: which node to ask and what to match."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

#: (input id, label, placeholder, DICOM keyword)
FIELDS = (
    ("q-name", "Patient name", "DOE^J*  (wildcards * and ?)", "PatientName"),
    ("q-id", "Patient ID", "exact ID or wildcard", "PatientID"),
    ("q-date", "Study date", "YYYYMMDD or YYYYMMDD-YYYYMMDD", "StudyDate"),
    ("q-modality", "Modality", "CT, MR...", "ModalitiesInStudy"),
    ("q-accession", "Accession", "accession number", "AccessionNumber"),
)


@dataclass(frozen=True)
class QueryRequest:
    """What the form asks for: a node (configured name, AE@host:port or a DICOMweb URL) and
    match keys."""

    node: str
    keys: dict[str, str] = field(default_factory=dict)


def query_keys(values: dict[str, str]) -> dict[str, str]:
    """The C-FIND keys of the form's non-empty fields (by input id), dashes removed from dates."""
    keys: dict[str, str] = {}
    for input_id, _label, _placeholder, keyword in FIELDS:
        value = values.get(input_id, "").strip()
        if not value:
            continue
        if keyword == "StudyDate":
            value = value.replace(" ", "")
        if keyword == "ModalitiesInStudy":
            value = value.upper()
        keys[keyword] = value
    return keys


class QueryScreen(ModalScreen[QueryRequest | None]):
    """A modal form; Enter in any field runs the query, Escape closes it."""

    BINDINGS = [Binding("escape", "cancel", "Close")]

    def __init__(self, nodes: list[str], last: QueryRequest | None = None) -> None:
        super().__init__()
        self.nodes = nodes
        self.last = last

    def compose(self) -> ComposeResult:
        """The node picker, a free AE@host:port field and the match fields."""
        options = [(name, name) for name in self.nodes]
        last_node = self.last.node if self.last else ""
        chosen = last_node if last_node in self.nodes else (self.nodes[0] if self.nodes else None)
        with Vertical(id="query-box") as box:
            box.border_title = "Query node"
            box.border_subtitle = "Enter runs · Esc closes"
            with Grid(id="query-grid"):
                yield Label("Node")
                if chosen is None:
                    yield Select(options, prompt="no configured nodes", id="q-node")
                else:
                    yield Select(options, value=chosen, allow_blank=False, id="q-node")
                yield Label("or AE@host:port / URL")
                spec = last_node if last_node and last_node not in self.nodes else ""
                example = "PACS@10.0.0.5:104 or https://host/dicom-web"
                yield Input(value=spec, placeholder=example, id="q-spec")
                for input_id, label, placeholder, keyword in FIELDS:
                    yield Label(label)
                    value = self.last.keys.get(keyword, "") if self.last else ""
                    yield Input(value=value, placeholder=placeholder, id=input_id)
            yield Static("", id="query-error")

    def on_mount(self) -> None:
        """Start in the patient name field."""
        self.query_one("#q-name", Input).focus()

    def request(self) -> QueryRequest | None:
        """The request the form describes, or None (with a hint) if no node is given."""
        spec = self.query_one("#q-spec", Input).value.strip()
        selected = self.query_one("#q-node", Select).value
        node = spec or (selected if isinstance(selected, str) else "")
        if not node:
            self.query_one("#query-error", Static).update(
                "choose a configured node or type AE@host:port or a DICOMweb URL"
            )
            return None
        values = {i.id or "": i.value for i in self.query(Input)}
        return QueryRequest(node, query_keys(values))

    @on(Input.Submitted)
    def submitted(self) -> None:
        """Enter in any field: close the form with the request."""
        request = self.request()
        if request is not None:
            self.dismiss(request)

    def action_cancel(self) -> None:
        """Close without querying."""
        self.dismiss(None)
