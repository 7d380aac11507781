"""The architecture the README draws: each layer imports only the layers below it, and no modules import each other in
a circle (imports inside functions count: they are how circles used to be hidden)."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["model", "lab", "app", "tools", "cli"]  # a package may import those before it; pages/ is layout over app+lab
FORBIDDEN = {"lab": {"streamlit", "gradio"}, "model": {"streamlit", "gradio"}}  # the core runs without a UI
DATA_MAY_IMPORT = {"model.config", "model.locations", "model.atomic", "model.parallel"}  # model/data/ below the network


def project_modules() -> dict[str, Path]:
    return {".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
            for layer in LAYERS for path in (REPO / layer).rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every module name an import statement of the file names, wherever it stands."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def project_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: {other for other in imports_of(path) if other in modules and other != name}
            for name, path in modules.items()}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer):
    allowed = set(LAYERS[:LAYERS.index(layer) + 1])
    upward = {f"{name} imports {other}" for name, path in project_modules().items() if name.split(".")[0] == layer
              for other in imports_of(path)
              if other.split(".")[0] in set(LAYERS) - allowed or other.split(".")[0] in FORBIDDEN.get(layer, ())}
    assert not upward


def test_the_data_package_imports_nothing_of_the_network():
    graph = project_graph()
    network_side = {f"{name} imports {other}" for name in graph if name.startswith("model.data")
                    for other in graph[name] if other != "model" and not other.startswith("model.data")
                    and other not in DATA_MAY_IMPORT}
    assert not network_side


def test_no_modules_import_each_other_in_a_circle():
    graph = project_graph()
    circles, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                circles.append(" -> ".join(path[path.index(other):] + [other]))
            elif other not in state:
                visit(other, path + [other])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles
