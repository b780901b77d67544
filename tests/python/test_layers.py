"""The source's layers import one way (issue 16): in host-python/src each
layer folder uses only the layers before it, and no import circle spans two
files of host-python/src or of src/backend. Checked on `crate::` and `super::`
paths, the way the code names its modules."""

import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
HOST = os.path.join(ROOT, "host-python", "src")

#: host-python/src's layers, lowest first; `ffi` (and the crate root) on top.
LAYERS = ["base", "memory", "objects", "marshal", "calls", "protocols", "ffi"]


def rust_files(folder):
    for directory, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".rs"):
                yield os.path.join(directory, name)


def code(path):
    """The file's text without comments (doc links name modules too)."""
    with open(path) as f:
        return re.sub(r"//[^\n]*", "", f.read())


def host_module(path):
    """`layer::module` of a file of host-python/src (`ffi` for ffi.rs)."""
    rel = os.path.relpath(path, HOST)[:-3].split(os.sep)
    return "::".join(rel) if len(rel) == 2 else rel[0]


def host_uses(path):
    """The `layer::module` names a host-python file imports."""
    text = code(path)
    uses = set(re.findall(r"crate::(\w+::\w+)", text))
    if re.search(r"crate::ffi\b", text):
        uses.add("ffi")
    return {u for u in uses if u.split("::")[0] in LAYERS or u == "ffi"}


def test_each_host_layer_uses_only_the_layers_below_it():
    wrong = []
    for path in rust_files(HOST):
        module = host_module(path)
        layer = module.split("::")[0]
        if layer not in LAYERS:  # lib.rs, mod.rs files
            continue
        for used in host_uses(path):
            if LAYERS.index(used.split("::")[0]) > LAYERS.index(layer):
                wrong.append(f"{module} uses {used}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def cycles(graph):
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_host_python():
    graph = {host_module(p): {u for u in host_uses(p) if u != host_module(p)} for p in rust_files(HOST)}
    assert cycles(graph) == []


@pytest.mark.parametrize("backend", ["wasm", "native"])
def test_no_import_circle_in_a_backend(backend):
    folder = os.path.join(ROOT, "src", "backend", backend)
    modules = [n[:-3] for n in os.listdir(folder) if n.endswith(".rs") and n != "mod.rs"]
    graph = {}
    for name in modules:
        text = code(os.path.join(folder, name + ".rs"))
        graph[name] = {
            other for other in modules if other != name and (
                re.search(rf"super::{other}\b", text)
                or re.search(rf"crate::backend::{backend}::{other}\b", text)
                or re.search(rf"use super::\{{[^}}]*\b{other}\b", text))
        }
    assert cycles(graph) == []
