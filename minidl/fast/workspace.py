"""Write a kernel's intermediate tensors into the same buffers at every step (``out=``).

A stacked step of 40 seed networks makes about fifteen (40, 50, 25) intermediates a step, 200 kB
each. Fresh tensors of that size come from the C allocator, which hands big blocks back to the
system and takes them again: measured on the 2-core box, ~600 page faults a step, as long as the
arithmetic itself (benchmarks/RESULTS.md, "Issue 14 speed"). ``with_buffers`` rewrites a
kernel's function so that each intermediate whose value stays inside one call is written into a
buffer of its own, kept between calls: the same torch function with ``out=``, which computes the
same bits into the given tensor.

Which results may go into a buffer is decided on the function's syntax (``_Escapes``): a value
*escapes* if it is returned (the gradients and the loss are fresh at every step, as the eager
step makes them), passed to a call not known to keep nothing (the loss callback, an op called
with a ctx, a helper), or is a view or an alias of a value that escapes. Everything else is used
up within the call, so overwriting it at the next call is safe.

Two functions are made from one: ``keep`` (the first call with a workspace: each buffered
result is computed as written and stored in ``ws[k]``) and ``reuse`` (later calls: the torch
call gets ``out=ws[k]``; ``a * b`` becomes ``torch.mul(a, b, out=ws[k])`` when ``a`` is a
tensor). A buffer never stored (a branch not taken at the first call) is ``None``, and
``out=None`` makes a fresh tensor, so a later call taking that branch still computes the same.

After the first call ``share`` lets results whose lives do not overlap (``_Lives``: from the
statement that makes a value to the last that reads a name it may be bound to) use one tensor,
when they have the same shape, strides and dtype; an elementwise result that is the last thing
its statement computes may take the buffer of an input it consumes (torch then computes it in
place, to the same bits). A stack's step keeps 5 big buffers instead of ~20, which stay in cache.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Buffered", "with_buffers", "share", "OUT_FUNCTIONS"]

# torch functions that return one fresh tensor and take out= (the same kernel, written into it)
OUT_FUNCTIONS = frozenset((
    "bmm", "baddbmm", "mm", "addmm", "mul", "add", "sub", "div", "addcmul", "addcdiv",
    "sigmoid", "tanh", "sign", "exp", "log", "sin", "cos", "erf", "abs", "neg", "sqrt",
    "clamp_min", "clamp", "where", "lerp", "pow", "square",
))
# torch functions without out= that ATen defines as another one with it: relu(x) is
# clamp_min(x, 0) (aten/src/ATen/native/Activation.cpp), so ``reuse`` calls that
SAME_AS = {"relu": ("clamp_min", 0)}
# the OUT_FUNCTIONS (and SAME_AS) that compute each output element from the same elements of
# their inputs alone, so they may write over an input of the output's layout
ELEMENTWISE = OUT_FUNCTIONS - {"bmm", "baddbmm", "mm", "addmm"} | set(SAME_AS)
# tensor methods that return a fresh tensor (their receiver and arguments do not escape by them)
FRESH_METHODS = frozenset((
    "sum", "mean", "amax", "amin", "clone", "abs", "neg", "exp", "log", "sqrt", "sign", "dim",
    "numel", "stride", "size", "item", "sigmoid", "tanh", "relu",
))
# tensor methods whose result may share memory with the receiver or the arguments
VIEW_METHODS = frozenset((
    "transpose", "t", "expand", "expand_as", "unsqueeze", "squeeze", "reshape", "view",
    "view_as", "permute", "contiguous", "narrow", "select", "flatten", "unflatten", "detach",
    "movedim", "as_strided", "diagonal", "unbind", "split", "chunk", "to", "type_as",
))
# attributes that are not a tensor's memory
METADATA = frozenset(("shape", "dtype", "device", "ndim", "is_cuda", "requires_grad"))
# Python operators and the torch function each one calls on a tensor left operand
BINARY = {ast.Mult: "mul", ast.Add: "add", ast.Sub: "sub", ast.Div: "div"}
# the name of the workspace list, the rewritten functions' last argument
_WS = "ws"


def _is_torch(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "torch"


def _torch_call(node: ast.AST) -> bool:
    """``torch.f(...)`` with f in OUT_FUNCTIONS, and no out= already."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "torch"
        and (node.func.attr in OUT_FUNCTIONS or node.func.attr in SAME_AS and len(node.args) == 1)
        and not any(k.arg == "out" for k in node.keywords)
    )


def _buffered_binop(node: ast.AST) -> bool:
    """``a op b`` that can become ``torch.op(a, b, out=...)``: a is a name or such a call."""
    return (
        isinstance(node, ast.BinOp)
        and type(node.op) in BINARY
        and (isinstance(node.left, ast.Name) or _torch_call(node.left))
    )


class _Escapes:
    """Which results of a function stay inside it: the buffered candidates (see the module)."""

    def __init__(self, func: ast.FunctionDef, readers: frozenset[str]) -> None:
        self.func, self.readers = func, readers
        self.escaping: set[Any] = set()  # names, and (name, k) for element k of a tuple name
        self.candidates: set[int] = set()  # id() of the nodes that may write into a buffer
        for _ in range(100):  # a fixed point: each pass can only add escaping names
            before = len(self.escaping)
            self.candidates = set()
            self._body(func.body)
            if len(self.escaping) == before:
                return
        raise RuntimeError("escape analysis did not settle")  # pragma: no cover

    def _body(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self._statement(statement)

    def _statement(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Return):
            if s.value is not None:
                self._value(s.value, True)
        elif isinstance(s, ast.Assign):
            for target in s.targets:
                self._assign(target, s.value)
        elif isinstance(s, ast.Expr):
            self._value(s.value, False)
        elif isinstance(s, ast.If):
            self._value(s.test, False)
            self._body(s.body)
            self._body(s.orelse)
        else:  # anything else: every name it touches escapes, nothing in it is buffered
            for node in ast.walk(s):
                if isinstance(node, ast.Name):
                    self.escaping.add(node.id)

    def _assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if isinstance(value, ast.Tuple):  # t = (a, b): element k escapes with (t, k)
                whole = target.id in self.escaping
                for k, element in enumerate(value.elts):
                    self._value(element, whole or (target.id, k) in self.escaping)
            else:
                self._value(value, target.id in self.escaping)
        elif isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
            flags = [e.id in self.escaping for e in target.elts]
            if isinstance(value, ast.Name):  # a, b = t: t's element k escapes with target k
                for k, flag in enumerate(flags):
                    if flag:
                        self.escaping.add((value.id, k))
            elif isinstance(value, ast.Tuple) and len(value.elts) == len(flags):
                for element, flag in zip(value.elts, flags, strict=True):
                    self._value(element, flag)
            else:
                self._value(value, any(flags))
        else:
            self._value(value, True)
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    self.escaping.add(node.id)

    def _value(self, node: ast.expr, escapes: bool) -> None:
        """Visit an expression whose value escapes or not."""
        if isinstance(node, ast.Name):
            if escapes:
                self.escaping.add(node.id)
        elif _torch_call(node) or _buffered_binop(node):
            if not escapes:
                self.candidates.add(id(node))
            children = [node.left, node.right] if isinstance(node, ast.BinOp) else [
                *node.args, *(k.value for k in node.keywords)
            ]
            for child in children:
                self._value(child, False)  # a fresh result: its operands are only read
        elif isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._value(child, False)
        elif isinstance(node, ast.Call):
            func = node.func
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if isinstance(func, ast.Attribute) and func.attr in FRESH_METHODS:
                self._value(func.value, False)  # x.sum(1): a new tensor
                for child in arguments:
                    self._value(child, False)
            elif isinstance(func, ast.Attribute) and (
                _is_torch(func.value) or func.attr in VIEW_METHODS
            ):  # x.transpose(1, 2), torch.ones_like(x): may be the argument's memory
                self._value(func.value, escapes)
                for child in arguments:
                    self._value(child, escapes)
            elif isinstance(func, ast.Name) and func.id in self.readers:
                for child in arguments:  # a call known to only read its arguments
                    self._value(child, False)
            else:  # a callback, an op called with a ctx, a helper: it may keep what it gets
                self._value(func, True)
                for child in arguments:
                    self._value(child, True)
        elif isinstance(node, ast.Attribute):
            # x.shape, x.dtype are not x's memory; x.T, x.data, x.mT are
            self._value(node.value, escapes and node.attr not in METADATA)
        elif isinstance(node, ast.Subscript):
            self._value(node.value, escapes)
            self._value(node.slice, False)
        elif isinstance(node, ast.IfExp):
            self._value(node.test, False)
            self._value(node.body, escapes)
            self._value(node.orelse, escapes)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self._value(element, escapes)
        elif isinstance(node, ast.Starred):
            self._value(node.value, escapes)
        elif not isinstance(node, ast.Constant):  # an unknown expression: all of it escapes
            for child in ast.walk(node):
                if isinstance(child, ast.Name):
                    self.escaping.add(child.id)


class _Rewrite(ast.NodeTransformer):
    """Make the ``keep`` (store) or ``reuse`` (out=) version of a function's candidates."""

    def __init__(self, candidates: dict[int, int], reuse: bool) -> None:
        self.candidates, self.reuse = candidates, reuse  # copy's node id -> original's
        self.count = 0
        self.order: list[int] = []  # buffer k's node in the original tree

    def _buffer(self, k: int) -> ast.expr:
        return ast.Subscript(ast.Name(_WS, ast.Load()), ast.Constant(k), ast.Load())

    def visit_Call(self, node: ast.Call) -> ast.AST:
        original = self.candidates.get(id(node))
        node = self.generic_visit(node)
        return node if original is None else self._rewrite(node, original)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        original = self.candidates.get(id(node))
        node = self.generic_visit(node)
        return node if original is None else self._rewrite(node, original)

    def _rewrite(self, node: ast.expr, original: int) -> ast.expr:
        k = self.count
        self.count += 1
        self.order.append(original)
        if not self.reuse:  # _keep(ws, k, value): store the value, give it back
            return ast.Call(ast.Name("_keep", ast.Load()),
                            [ast.Name(_WS, ast.Load()), ast.Constant(k), node], [])
        out = ast.keyword("out", self._buffer(k))
        if isinstance(node, ast.Call):
            if node.func.attr in SAME_AS:
                name, extra = SAME_AS[node.func.attr]
                func = ast.Attribute(node.func.value, name, ast.Load())
                return ast.Call(func, [*node.args, ast.Constant(extra)], [*node.keywords, out])
            return ast.Call(node.func, node.args, [*node.keywords, out])
        # a op b -> torch.op(a, b, out=ws[k]) if a is a tensor, else a op b as written
        fn = ast.Attribute(ast.Name("torch", ast.Load()), BINARY[type(node.op)], ast.Load())
        call = ast.Call(fn, [node.left, node.right], [out])
        if not isinstance(node.left, ast.Name):  # a torch call: a tensor
            return call
        test = ast.Compare(
            ast.Call(ast.Name("type", ast.Load()), [node.left], []), [ast.Is()],
            [ast.Name("_Tensor", ast.Load())],
        )
        return ast.IfExp(test, call, node)


def _keep(ws: list, k: int, value: Any) -> Any:
    """Store a result as buffer k of a workspace (the first call), and return it."""
    ws[k] = value
    return value


@dataclass(frozen=True)
class Buffered:
    """A function rewritten to keep its intermediates in a workspace (see the module)."""

    keep: str  # the source of ``<name>_keep(..., ws)``: the first call, filling ws
    reuse: str  # the source of ``<name>_reuse(..., ws)``: later calls, writing into ws
    count: int  # the workspace's length: one entry per buffered result
    # per buffer, the positions (statements in order) where its value is made and last used,
    # or None when nothing may share buffers (a loop: the order is not the time)
    lives: tuple[tuple[int, int], ...] | None
    # per buffer, whether its result may be written over a value last read in its own
    # statement: an elementwise function that is the last thing its statement computes
    in_place: tuple[bool, ...] = ()


def with_buffers(source: str, name: str, readers: frozenset[str] = frozenset()) -> Buffered:
    """Function ``name`` of ``source`` rewritten with its intermediates in buffers: its
    ``keep`` and ``reuse`` versions (each taking a workspace list as a last argument ``ws``).
    ``readers`` names the functions it calls that only read their arguments (keep none)."""
    tree = ast.parse(source)
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    candidates = _Escapes(func, readers).candidates
    out = []
    order: list[int] = []
    for reuse in (False, True):
        copy = ast.parse(source)
        copy_func = next(n for n in copy.body if isinstance(n, ast.FunctionDef) and n.name == name)
        # the candidates by position: the copy's nodes line up with the analysed tree's
        chosen = {id(b): id(a) for a, b in zip(ast.walk(func), ast.walk(copy_func), strict=True)
                  if id(a) in candidates}
        rewrite = _Rewrite(chosen, reuse)
        copy_func.body = [rewrite.visit(s) for s in copy_func.body]
        copy_func.args.args.append(ast.arg(_WS))
        copy_func.name = f"{name}_{'reuse' if reuse else 'keep'}"
        out.append(ast.unparse(ast.fix_missing_locations(copy)) + "\n")
        order = rewrite.order
    lives = _Lives(func, readers)
    spans = None if lives.looped else tuple(lives.span(node_id) for node_id in order)
    in_place = tuple(lives.last_in_statement(node_id) and lives.elementwise(node_id)
                     for node_id in order)
    return Buffered(out[0], out[1], len(candidates), spans, in_place)


class _Lives:
    """When each value of a loop-free function is made and last used, in statement order.

    The statements are numbered in order, an ``if``'s branches one after the other (a value
    made in one branch and used after the ``if`` lives across the other). A result lives from
    its statement to the last statement that reads any name it may be bound to: the names its
    statement assigns it to (through tuples, views and conditional expressions), and every name
    assigned from those (``a = b``, ``a, b = t``, ``v = x.view(...)``), and so on;
    a result consumed within its statement (``a * torch.sign(y)``'s sign) lives there only.
    The names are followed without regard to time (a name bound again later, a tuple's
    elements taken together), so a span can only come out too long.
    """

    def __init__(self, func: ast.FunctionDef, readers: frozenset[str]) -> None:
        self.readers = readers  # calls that give back none of their arguments
        self.position: dict[int, int] = {}  # node id -> its statement's number
        self.parent: dict[int, ast.AST] = {}
        self.nodes = {id(n): n for n in ast.walk(func)}
        self.last_read: dict[str, int] = {}
        self.flows: dict[str, set[str]] = {}  # name -> the names assigned (views of) it
        self.elements: dict[str, int] = {}  # a tuple's name -> its elements named "t[k]"
        self.looped = any(isinstance(n, (ast.For, ast.While, ast.AsyncFor, ast.With, ast.Try,
                                          ast.FunctionDef, ast.Lambda, ast.comprehension))
                          for n in ast.walk(func) if n is not func)
        self._number(func.body, [0])
        for node in ast.walk(func):
            for child in ast.iter_child_nodes(node):
                self.parent[id(child)] = node
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                where = self.position.get(id(node), 0)
                self.last_read[node.id] = max(self.last_read.get(node.id, 0), where)
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._assign(target, node.value)

    def _flow(self, source: str, name: str) -> None:
        self.flows.setdefault(source, set()).add(name)

    def _element(self, name: str, k: int) -> str:
        self.elements[name] = max(self.elements.get(name, 0), k + 1)
        return f"{name}[{k}]"

    def _assign(self, target: ast.expr, value: ast.expr) -> None:
        """The flows of one assignment, a tuple's elements one by one where both sides say
        which (``t = (a, b)``; ``a, b = t``)."""
        if isinstance(target, ast.Name) and isinstance(value, ast.Tuple):
            for k, element in enumerate(value.elts):
                for source in _aliased(element, self.readers):
                    self._flow(source, self._element(target.id, k))
        elif (isinstance(target, ast.Tuple) and isinstance(value, ast.Name)
              and all(isinstance(e, ast.Name) for e in target.elts)):
            for k, element in enumerate(target.elts):
                self._flow(self._element(value.id, k), element.id)
        else:
            names = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
            for source in _aliased(value, self.readers):
                for name in names:
                    self._flow(source, name)

    def _number(self, body: list[ast.stmt], counter: list[int]) -> None:
        for statement in body:
            counter[0] += 1
            here = counter[0]
            nested = statement.body + statement.orelse if isinstance(statement, ast.If) else []
            inside = set()
            for part in nested:
                inside.update(id(n) for n in ast.walk(part))
            for node in ast.walk(statement):
                if id(node) not in inside:
                    self.position[id(node)] = here
            if isinstance(statement, ast.If):
                self._number(statement.body, counter)
                self._number(statement.orelse, counter)

    def span(self, node_id: int) -> tuple[int, int]:
        """(made, last read) of the result of the node with this id."""
        made = self.position[node_id]
        names = self._bound_to(node_id)
        if not names:
            return made, made
        reached, todo = set(names), list(names)
        while todo:  # every name the value may flow into
            name = todo.pop()
            base = name.split("[", 1)[0]
            after = set(self.flows.get(name, ()))
            if base != name:  # an element: also where the whole tuple goes
                after |= self.flows.get(base, set())
            else:  # the whole tuple: also each of its elements
                after |= {f"{name}[{k}]" for k in range(self.elements.get(name, 0))}
            for other in after - reached:
                reached.add(other)
                todo.append(other)
        # an element is read where its tuple is
        last = max((self.last_read.get(name.split("[", 1)[0], made) for name in reached),
                   default=made)
        return made, max(made, last)

    def last_in_statement(self, node_id: int) -> bool:
        """Whether the node's result is the last thing its statement computes: the value of
        ``name = ...`` or of ``name = (...,)``; every read in the statement comes before it."""
        parent = self.parent.get(node_id)
        if isinstance(parent, ast.Tuple) and len(parent.elts) == 1:
            parent = self.parent.get(id(parent))
        return isinstance(parent, ast.Assign) and len(parent.targets) == 1

    def elementwise(self, node_id: int) -> bool:
        """Whether the node is an operator or torch function computing each element alone (its
        output may be one of its inputs: torch computes it in place, to the same bits)."""
        node = self.nodes[node_id]
        if isinstance(node, ast.BinOp):
            return True
        return isinstance(node, ast.Call) and node.func.attr in ELEMENTWISE

    def _bound_to(self, node_id: int) -> set[str]:
        """The names the value of this node is assigned to, through aliasing parents."""
        child = node_id
        node = self.parent.get(child)
        while node is not None:
            parent = self.parent.get(id(node))
            if (isinstance(node, ast.Tuple) and isinstance(parent, ast.Assign)
                    and parent.value is node and len(parent.targets) == 1
                    and isinstance(parent.targets[0], ast.Name)):  # t = (..., value, ...)
                k = next(i for i, e in enumerate(node.elts) if id(e) == child)
                return {f"{parent.targets[0].id}[{k}]"}
            if isinstance(node, ast.Assign):
                return {n.id for t in node.targets for n in ast.walk(t)
                        if isinstance(n, ast.Name)}
            if not _passes_on(node, child, self.readers):
                return set()
            child, node = id(node), self.parent.get(id(node))
        return set()


def _passes_on(node: ast.AST, child: int, readers: frozenset[str]) -> bool:
    """Whether ``node``'s value may be (a view of) its child's with this id."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Starred)):
        return True
    if isinstance(node, ast.IfExp):
        return id(node.test) != child
    if isinstance(node, ast.Subscript):
        return id(node.value) == child
    if isinstance(node, ast.Attribute):
        return node.attr not in METADATA
    if isinstance(node, ast.Call):  # a new tensor from a torch function or x.sum(); any
        # other call (a view, an op, a callback, an in-place method) may give its inputs back
        if isinstance(node.func, ast.Name) and node.func.id in readers:
            return False
        return not (_torch_call(node) or (
            isinstance(node.func, ast.Attribute) and not _is_torch(node.func.value)
            and node.func.attr in FRESH_METHODS))
    return False  # an operator, a comparison: a new value


def _aliased(node: ast.expr, readers: frozenset[str]) -> set[str]:
    """The names whose values ``node``'s value may be, or be a view of."""
    if isinstance(node, ast.Name):
        return {node.id}
    out: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr) and _passes_on(node, id(child), readers):
            out |= _aliased(child, readers)
    return out


def share(ws: list, lives: tuple[tuple[int, int], ...] | None,
          in_place: tuple[bool, ...]) -> None:
    """After the first call: let results whose lives do not overlap use one buffer, when
    they have the same shape, strides and dtype (fewer buffers: more of them stay in cache).
    ``lives`` and ``in_place`` are with_buffers' (``Buffered``)."""
    if lives is None:
        return
    free: list[list] = []  # [tensor, its layout, the last read of its current value]
    for k in sorted(range(len(ws)), key=lambda k: lives[k]):
        t = ws[k]
        if type(t) is not torch.Tensor:
            continue
        layout = (t.shape, t.stride(), t.dtype, t.device, t.storage_offset())
        made, last = lives[k]
        for slot in free:  # a buffer free before this statement, or at it, in place
            if slot[1] == layout and (slot[2] < made or slot[2] == made and in_place[k]):
                ws[k] = slot[0]
                slot[2] = last
                break
        else:
            free.append([t, layout, last])


NAMESPACE = {"_keep": _keep, "_Tensor": torch.Tensor, "torch": torch}
"""What the rewritten functions use besides the original's namespace."""
