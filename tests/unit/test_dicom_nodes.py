"""Node and LocalAE validation."""

from __future__ import annotations

import pytest

from tuipacs.dicom.errors import NodeError
from tuipacs.dicom.nodes import LocalAE, Node, parse_node_spec


def test_from_mapping_defaults() -> None:
    node = Node.from_mapping("pacs", {"ae_title": "PACS", "host": "pacs.example", "port": 104})
    assert (node.method, node.parallel, node.max_pdu) == ("get", 2, 4 * 1024 * 1024)
    assert node.address == "PACS@pacs.example:104"
    assert Node.from_mapping("pacs", node.to_mapping()) == node


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"ae_title": "PACS", "host": "h", "port": "104"}, "port"),
        ({"ae_title": "PACS", "host": "h", "port": 70000}, "port"),
        ({"ae_title": "A" * 17, "host": "h", "port": 104}, "ae_title"),
        ({"ae_title": "PACS", "host": "", "port": 104}, "host"),
        ({"ae_title": "PACS", "host": "h", "port": 104, "method": "post"}, "method"),
        ({"ae_title": "PACS", "host": "h", "port": 104, "parallel": 0}, "parallel"),
        ({"ae_title": "PACS", "host": "h", "port": 104, "timeout": -1}, "timeout"),
        ({"ae_title": "PACS", "host": "h", "port": 104, "max_pdu": 100}, "max_pdu"),
        ({"ae_title": "PACS", "host": "h", "port": 104, "colour": "red"}, "colour"),
        ({"ae_title": "PACS", "host": "h"}, "port"),
    ],
)
def test_from_mapping_names_the_bad_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(NodeError, match=f"node 'pacs'.*{key}"):
        Node.from_mapping("pacs", data)


def test_parse_node_spec() -> None:
    node = parse_node_spec("ORTHANC@127.0.0.1:4242")
    assert (node.ae_title, node.host, node.port) == ("ORTHANC", "127.0.0.1", 4242)
    assert parse_node_spec("X@[::1]:104").host == "::1"
    with pytest.raises(NodeError, match="AE@host:port"):
        parse_node_spec("ORTHANC:4242")
    for bad in ("X@@h:1", "X@h@h:1", "X@h st:1", "X@[::1@]:1"):  # "X@@h:1" was host "@h"
        with pytest.raises(NodeError, match="AE@host:port"):
            parse_node_spec(bad)


def test_local_ae() -> None:
    local = LocalAE.from_mapping({"ae_title": "ME", "port": 11113, "spool_dir": "/x"})
    assert local.spool_dir is not None and local.spool_dir.name == "x"
    with pytest.raises(NodeError, match="local ae_title"):
        LocalAE("")
    with pytest.raises(NodeError, match="unknown key 'aet'"):
        LocalAE.from_mapping({"aet": "ME"})
