"""AccessPolicy: allow rules per service (no network)."""

from __future__ import annotations

import pytest

from tuipacs.dicom.errors import NodeError
from tuipacs.dicom.scp_access import QUERY, RETRIEVE, STORE, AccessPolicy, AllowRule

ALL = frozenset({STORE, QUERY, RETRIEVE})


def test_parse_rules() -> None:
    assert AllowRule.parse(" CT1 ") == AllowRule("CT1")
    rule = AllowRule.parse("CT1@10.1.0.0/16")
    assert (rule.ae_title, rule.host, str(rule.network)) == ("CT1", "10.1.0.0/16", "10.1.0.0/16")
    assert AllowRule.parse("*@127.0.0.1").ae_title == "*"
    assert str(AllowRule.parse("PACS@pacs.example")) == "PACS@pacs.example"
    for bad in ("", "@host", "AE@", "A" * 17, "BACK\\SLASH"):
        with pytest.raises(NodeError):
            AllowRule.parse(bad)


def test_empty_lists_allow_anyone() -> None:
    policy = AccessPolicy.from_lists([])
    assert policy.is_open
    assert policy.allowed("ANYONE", "192.0.2.7") == ALL


def test_common_and_per_service_lists() -> None:
    policy = AccessPolicy.from_lists(
        ["ADMIN", "*@10.0.0.5"], store=["CT1@127.0.0.1"], query=["VIEWER"]
    )
    assert not policy.is_open
    assert policy.allowed("ADMIN", "127.0.0.1") == {RETRIEVE}
    assert policy.allowed("CT1", "127.0.0.1") == {STORE}
    assert policy.allowed("CT1", "127.0.0.2") == frozenset()
    assert policy.allowed("VIEWER", "192.0.2.1") == {QUERY}
    assert policy.allowed("WHOEVER", "10.0.0.5") == {RETRIEVE}
    assert policy.allowed("admin", "127.0.0.1") == frozenset()  # AE titles are case-sensitive
    assert "store: CT1@127.0.0.1" in policy.describe()


def test_host_forms() -> None:
    policy = AccessPolicy.from_lists(["A@10.0.0.0/8", "B@localhost", "C@::1"])
    assert policy.allowed("A", "10.200.3.4") == ALL
    assert policy.allowed("A", "::ffff:10.1.1.1") == ALL  # IPv4-mapped IPv6
    assert policy.allowed("A", "11.0.0.1") == frozenset()
    assert policy.allowed("B", "127.0.0.1") == ALL  # host name resolved
    assert policy.allowed("C", "::1") == ALL
    assert policy.allowed("C", "not-an-address") == frozenset()
