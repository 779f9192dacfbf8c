import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_cli.errors import InvalidInputError, Issue, NotFoundError
from workflow_cli.graph import dag

DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


@pytest.mark.parametrize(
    ("deps", "expected"),
    [
        (
            {"build": [], "deploy": ["biuld"]},
            [Issue("tasks.deploy.dependencies[0]", "unknown task 'biuld'", "did you mean 'build'?")],
        ),
        ({"build": [], "deploy": ["zzz"]}, [Issue("tasks.deploy.dependencies[0]", "unknown task 'zzz'")]),
        ({"b": [], "a": ["b", "a"]}, [Issue("tasks.a.dependencies[1]", "task 'a' depends on itself")]),
        ({"b": [], "a": ["b", "b"]}, [Issue("tasks.a.dependencies[1]", "duplicate dependency 'b'")]),
        ({"a": [], "b": ["a"]}, []),
    ],
)
def test_dependency_issues(deps: dict[str, list[str]], expected: list[Issue]) -> None:
    assert dag.graph_issues(deps) == expected


def test_did_you_mean_never_suggests_the_task_itself() -> None:
    issues = dag.graph_issues({"deploy": ["deplyo"]})
    assert issues == [Issue("tasks.deploy.dependencies[0]", "unknown task 'deplyo'")]


def test_cycle_is_reported_from_first_task_in_document_order() -> None:
    issues = dag.graph_issues({"x": [], "a": ["c"], "b": ["a"], "c": ["b"]})
    assert issues == [Issue("tasks.a.dependencies", "dependency cycle: a -> c -> b -> a")]


def test_cycle_start_is_document_order_not_alphabetical() -> None:
    issues = dag.graph_issues({"zeta": ["alpha"], "alpha": ["zeta"]})
    assert issues == [Issue("tasks.zeta.dependencies", "dependency cycle: zeta -> alpha -> zeta")]


def test_several_cycles_each_reported() -> None:
    issues = dag.graph_issues({"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c", "a"]})
    assert [i.path for i in issues] == ["tasks.a.dependencies", "tasks.c.dependencies"]
    assert issues[1].message == "dependency cycle: c -> d -> c"


def test_cycle_reports_are_capped() -> None:
    deps = {}
    for i in range(20):
        deps[f"p{i}"] = [f"q{i}"]
        deps[f"q{i}"] = [f"p{i}"]
    issues = dag.graph_issues(deps)
    assert len(issues) == dag.MAX_CYCLES_REPORTED
    assert issues[0] == Issue("tasks.p0.dependencies", "dependency cycle: p0 -> q0 -> p0")


def test_self_dependency_is_not_also_a_cycle() -> None:
    assert [i.message for i in dag.graph_issues({"a": ["a"]})] == ["task 'a' depends on itself"]


def test_build_graph_keeps_document_order_and_skips_bad_edges() -> None:
    g = dag.build_graph({"c": [], "a": ["c", "nope", "a"], "b": ["a", "c"]})
    assert list(g) == ["c", "a", "b"]
    assert sorted(g.edges) == [("a", "b"), ("c", "a"), ("c", "b")]


def test_topological_order_uses_document_order_for_ties() -> None:
    g = dag.build_graph({"z": [], "y": [], "x": ["z"], "w": ["y"]})
    assert dag.topological_order(g) == ["z", "y", "x", "w"]


def test_topological_order_with_key() -> None:
    g = dag.build_graph({"a": [], "b": [], "c": ["a"]})
    priority = {"a": 0, "b": 5, "c": 10}
    assert dag.topological_order(g, key=lambda t: -priority[t]) == ["b", "a", "c"]


def test_topological_order_on_a_cycle_raises_with_the_cycle() -> None:
    g = dag.build_graph({"a": ["b"], "b": ["a"]})
    with pytest.raises(InvalidInputError) as info:
        dag.topological_order(g)
    assert info.value.issues == [Issue("tasks.a.dependencies", "dependency cycle: a -> b -> a")]


def test_topological_generations() -> None:
    g = dag.build_graph({"d": ["b", "c"], "c": ["a"], "b": ["a"], "a": []})
    assert dag.topological_generations(g) == [["a"], ["c", "b"], ["d"]]


def test_descendants_and_ancestors() -> None:
    g = dag.build_graph({**DIAMOND, "e": []})
    assert dag.descendants(g, ["b"]) == {"d"}
    assert dag.descendants(g, ["a", "b"]) == {"b", "c", "d"}
    assert dag.ancestors(g, ["d"]) == {"a", "b", "c"}
    assert dag.ancestors(g, ["e"]) == set()
    assert dag.descendants(g, []) == set()


def test_unknown_task_in_descendants() -> None:
    with pytest.raises(NotFoundError, match="did you mean 'a'"):
        dag.descendants(dag.build_graph({"a": []}), ["aa"])


def test_critical_path() -> None:
    g = dag.build_graph({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []})
    durations = {"a": 1.0, "b": 2.0, "c": 5.0, "d": 1.0, "e": 6.0}
    assert dag.critical_path(g, durations) == (["a", "c", "d"], 7.0)
    assert dag.critical_path(g, {"e": 1.0, "c": 0.5}) == (["e"], 1.0)
    assert dag.critical_path(dag.build_graph({}), {}) == ([], 0.0)


def test_remaining_critical_path() -> None:
    g = dag.build_graph(DIAMOND)
    durations = {"a": 1.0, "b": 2.0, "c": 5.0, "d": 1.0}
    assert dag.remaining_critical_path(g, durations, set()) == 7.0
    assert dag.remaining_critical_path(g, durations, {"a", "c"}) == 3.0
    assert dag.remaining_critical_path(g, durations, set(DIAMOND)) == 0.0


def test_ascii_diamond() -> None:
    g = dag.build_graph(DIAMOND)
    labels = {t: f"{t} [noop]" for t in DIAMOND}
    assert dag.to_ascii(g, labels, {"a": "completed"}) == "\n".join(
        [
            "a [noop] (completed)",
            "├── b [noop]",
            "│   └── d [noop]",
            "└── c [noop]",
            "    └── d (see above)",
        ]
    )


def test_ascii_several_roots_and_plain_ids() -> None:
    g = dag.build_graph({"a": [], "b": [], "c": ["a", "b"]})
    assert dag.to_ascii(g) == "a\n└── c\nb\n└── c (see above)"


def test_ascii_terminates_on_a_cycle() -> None:
    text = dag.to_ascii(dag.build_graph({"a": ["b"], "b": ["a"]}))
    assert text == "a\n└── b\n    └── a (see above)"


def test_mermaid() -> None:
    g = dag.build_graph({"a-b": [], "a_b": ["a-b"], "end": ["a_b"]})
    text = dag.to_mermaid(g, {"a-b": 'say "hi"'})
    assert text.splitlines() == [
        "flowchart TD",
        '    a_b["say #quot;hi#quot;"]',
        '    a_b_2["a_b"]',
        '    t_end["end"]',
        "    a_b --> a_b_2",
        "    a_b_2 --> t_end",
    ]


def test_dot() -> None:
    g = dag.build_graph({"a": [], "b": ["a"]})
    assert dag.to_dot(g, {"a": 'a "x"', "b": "b [noop]"}).splitlines() == [
        "digraph workflow {",
        "    node [shape=box];",
        '    "a" [label="a \\"x\\""];',
        '    "b" [label="b [noop]"];',
        '    "a" -> "b";',
        "}",
    ]


def test_json_shape_and_edge_order() -> None:
    g = dag.build_graph({"c": [], "a": [], "b": ["c", "a"], "d": ["a"]})
    nodes = [{"id": t, "name": t.upper(), "action": "noop", "extra": 1} for t in g]
    data = dag.to_json(g, nodes)
    assert set(data) == {"nodes", "edges"}
    assert data["nodes"][0] == {"id": "c", "name": "C", "action": "noop"}
    assert data["edges"] == [["c", "b"], ["a", "b"], ["a", "d"]]


def test_package_import_does_not_load_networkx() -> None:
    code = "import sys, workflow_cli.graph; assert 'networkx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@st.composite
def random_dags(draw: st.DrawFn) -> dict[str, list[str]]:
    size = draw(st.integers(min_value=0, max_value=30))
    names = [f"t{i}" for i in range(size)]
    order = draw(st.permutations(names))  # document order differs from the edge direction
    deps: dict[str, list[str]] = {}
    for i in range(size):
        lower = st.lists(st.integers(min_value=0, max_value=i - 1), max_size=4, unique=True) if i else st.just([])
        deps[f"t{i}"] = [f"t{j}" for j in draw(lower)]
    return {name: deps[name] for name in order}


@settings(max_examples=200)
@given(random_dags())
def test_topological_order_respects_every_edge(deps: dict[str, list[str]]) -> None:
    assert dag.graph_issues(deps) == []
    g = dag.build_graph(deps)
    position = {t: i for i, t in enumerate(dag.topological_order(g))}
    assert set(position) == set(deps)
    for task, needs in deps.items():
        for dep in needs:
            assert position[dep] < position[task]
    flat = [t for layer in dag.topological_generations(g) for t in layer]
    assert sorted(flat) == sorted(deps)
