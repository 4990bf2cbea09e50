"""Compiles a symphony with some of its numbers replaced, walking only the subtrees those numbers sit in.

A sweep compiles the same file a thousand times with different thresholds and windows; re-reading and
re-compiling the text each time costs milliseconds (tens for a large export). Instead the file is read and
compiled once (`Base`): every subtree compiled without errors is remembered under its shape. A variant
copies only the forms on the way from the top to each replaced number (the rest of the tree is shared,
so it is found in that memory and not walked), compiles with a copy of the base compiler, and drops the
nodes of the base that the variant no longer reaches. The result is the program the edited text would
compile to (tested against exactly that); locations point into the original file.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Mapping

from alchemiser.strategies.symphony.compiler import _Compiler, compile_forms
from alchemiser.strategies.symphony.program import (
    AssetNode,
    EmptyNode,
    FilterNode,
    IfNode,
    InverseVolNode,
    MixNode,
    Program,
    ProgramNode,
    children_of,
)
from alchemiser.strategies.symphony.reader import Atom, Form, Node

TreePath = tuple[int, ...]


class Base:
    """A file's top-level forms and the compiler state after compiling them once."""

    def __init__(self, forms: list[Node], filename: str) -> None:
        _give_shapes(forms)
        self.forms = forms
        self.filename = filename
        self.compiler = _Compiler(filename)
        self.program = compile_forms(forms, filename, self.compiler)  # raises SymphonyErrors

    def node_at(self, path: TreePath) -> Node:
        node: Node = self.forms[path[0]]
        for index in path[1:]:
            assert isinstance(node, Form)
            node = node.items[index]
        return node

    def replaced(self, values: Mapping[TreePath, int | float]) -> list[Node]:
        """The top-level forms with the number atoms at `values`' paths replaced; the rest is shared."""
        forms = list(self.forms)
        copies: dict[TreePath, Form] = {}
        for path, value in values.items():
            for depth in range(1, len(path)):  # copy each form on the way down, top first, once
                prefix = path[:depth]
                if prefix in copies:
                    continue
                parent_items = forms if depth == 1 else copies[prefix[:-1]].items
                original = parent_items[prefix[-1]]
                assert isinstance(original, Form)
                made = copy.copy(original)
                made.shape = None  # its subtree differs from the original's: never found in the memory
                made.items = list(original.items)
                parent_items[prefix[-1]] = copies[prefix] = made
            holder = forms if len(path) == 1 else copies[path[:-1]].items
            atom = holder[path[-1]]
            assert isinstance(atom, Atom)
            changed = copy.copy(atom)
            changed.value = value
            holder[path[-1]] = changed
        return forms

    def compile(self, values: Mapping[TreePath, int | float]) -> Program:
        """The program of the file with those numbers replaced; raises `SymphonyErrors` when it is invalid."""
        if not values:
            return self.program
        compiler = copy.copy(self.compiler)
        compiler.errors = []
        compiler.nodes = list(self.compiler.nodes)
        compiler.interned = dict(self.compiler.interned)
        compiler.compiled = dict(self.compiler.compiled)
        compiler.symbols = dict(self.compiler.symbols)
        program = compile_forms(self.replaced(values), self.filename, compiler)
        return prune(program)


def _give_shapes(forms: list[Node]) -> None:
    """A JSON score's forms are built by hand, without shapes; give each its own so compiles remember it."""
    fresh = itertools.count(-1, -1)  # negative: never equal to a shape the `.clj` reader hands out
    stack = [f for f in forms if isinstance(f, Form) and f.shape is None]
    while stack:
        form = stack.pop()
        form.shape = next(fresh)
        stack.extend(item for item in form.items if isinstance(item, Form) and item.shape is None)


def prune(program: Program) -> Program:
    """The program without the nodes its root does not reach, renumbered in the same (post-)order."""
    reached = {program.root}
    for index in range(len(program.nodes) - 1, -1, -1):  # parents come after their children
        if index in reached:
            reached.update(children_of(program.nodes[index]))
    if len(reached) == len(program.nodes):
        return program
    kept = sorted(reached)
    renumber = {old: new for new, old in enumerate(kept)}
    nodes: list[ProgramNode] = []
    for old in kept:
        node = program.nodes[old]
        # the nodes before the first dropped one keep their numbers, and so do their children: most of them
        if isinstance(node, IfNode):
            then, otherwise = renumber[node.then], renumber[node.otherwise]
            if (then, otherwise) != (node.then, node.otherwise):
                node = IfNode(node.condition, then, otherwise, node.loc)
        elif not isinstance(node, AssetNode | EmptyNode):
            children = tuple(renumber[c] for c in node.children)
            if children != node.children:
                if isinstance(node, MixNode):
                    node = MixNode(node.kind, children, node.weights, node.label, node.loc)
                elif isinstance(node, InverseVolNode):
                    node = InverseVolNode(node.window, children, node.loc)
                else:
                    node = FilterNode(node.metric, node.select, node.count, children, node.loc)
        nodes.append(node)
    return dataclasses.replace(program, nodes=nodes, root=renumber[program.root])
