import pytest

from testbed.errors import ConfigError
from testbed.topology.resolve import load_topology


def test_default_topology_is_the_plans_platform():
    topo = load_topology()
    assert [n.name for n in topo.frontends] == ["fe01", "fe02", "fe03", "fe04"]
    assert topo.spec.mss.mailroots["m0"] == "mss0" and topo.spec.mss.mailroots["m5"] == "mss1"
    assert {"uas0", "uas1", "uasbak", "oradb", "mss2", "array0", "internet"} <= set(topo.nodes)
    addresses = [n.address for n in topo.nodes.values()]
    assert len(set(addresses)) == len(addresses)
    assert all(a.startswith("127.") for a in addresses)


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("frontends:\n  count: ten\n", 2, "frontends.count"),
        ("network: 10.0.0.0/24\n", 1, "network"),
        ("mss:\n  mailroots:\n    m0: mss9\n", 2, "mss.mailroots"),
        ("ports:\n  smtp: 99999\n", 2, "ports.smtp"),
        ("frontends:\n  cuont: 3\n", 2, "frontends.cuont"),
        ("name: [unclosed\n", 2, ""),
    ],
)
def test_broken_topology_names_file_line_and_field(tmp_path, text, line, field):
    path = tmp_path / "topo.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_topology(path)
    assert err.value.file == str(path)
    assert err.value.line == line
    assert err.value.field == field
    assert str(path) in str(err.value)
