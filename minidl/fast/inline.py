"""Copy an op's ``forward`` or ``backward`` body into generated source: the op's own lines.

``inline(fn, tag, arguments, result)`` reads the source of an op's static method (``inspect``),
and gives back its body as lines that run in place of a call: arguments bound to the names the
op uses, every local name suffixed with ``tag`` (so two ops' ``x`` don't meet), ``return v``
turned into ``result = v``, and the ctx replaced by plain names:

=====================================  ========================================
in the op                              inlined (tag ``_3``)
=====================================  ========================================
``ctx.save(y)``                        ``saved_3 = (y_3,)``
``(y,) = ctx.saved``                   ``(y_3,) = saved_3``
``ctx.slope = s`` / ``ctx.slope``      ``ctx_slope_3 = s_3`` / ``ctx_slope_3``
``ctx.needs_input_grad``               the constant tuple, e.g. ``(False, True, True)``
=====================================  ========================================

Nothing of the maths is rewritten: each torch call, each formula, is the op's line as written,
so the result is the op's to the bit. What goes is a Python call per op and the ctx object.
A ``return`` inside an ``if`` becomes the end of that branch, with the lines that follow the
``if`` copied into its other branch. An op body this cannot take (a loop or ``with`` holding a
``return``, ``*args``) raises ``Uninlinable``; the caller then calls the op instead.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["Uninlinable", "inline"]


class Uninlinable(TypeError):
    """An op body that ``inline`` does not copy (the caller calls the op instead)."""


def inline(
    fn: Callable[..., Any],
    tag: str,
    arguments: list[str],
    result: str,
    needs_input_grad: tuple[bool, ...],
    namespace: dict[str, Any],
    reserved: frozenset[str] = frozenset(),
) -> list[str]:
    """The lines of ``fn``'s body (an op's forward or backward) to run in place of
    ``result = fn(ctx, *arguments)``, where ``arguments`` are source expressions.

    Globals the body uses (``torch``, a module's helper) are put into ``namespace``, renamed
    when the name is already there for another object or is one of the caller's ``reserved``
    names (its own locals).
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef):
        raise Uninlinable(f"{fn.__qualname__} is not a plain function")
    spec = func.args
    if spec.vararg or spec.kwarg or spec.kwonlyargs or spec.posonlyargs:
        raise Uninlinable(f"{fn.__qualname__} takes *args, **kwargs or keyword-only arguments")
    names = [a.arg for a in spec.args]
    ctx, params = names[0], names[1:]
    if len(arguments) > len(params):
        raise Uninlinable(f"{fn.__qualname__} takes {len(params)} arguments after ctx")
    defaults = dict(zip(params[len(params) - len(spec.defaults):], spec.defaults, strict=True))
    local = set(params) | {
        node.id for node in ast.walk(func) if isinstance(node, ast.Name)
        and isinstance(node.ctx, ast.Store)
    }
    renames = {name: f"{name}{tag}" for name in local}
    ctx_names = {f"saved{tag}"} | {
        f"ctx_{node.attr}{tag}" for node in ast.walk(func)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        and node.value.id == ctx
    }
    if ctx_names & set(renames.values()) or reserved & set(renames.values()):
        raise Uninlinable(f"{fn.__qualname__}'s local names meet the names inlining makes")
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id not in local and node.id != ctx:
            renames[node.id] = _global(node.id, fn, namespace, reserved)
    body = _Rewrite(ctx, tag, renames, needs_input_grad).visit_body(func.body)
    lines = []
    for k, param in enumerate(params):
        if k < len(arguments):
            lines.append(f"{param}{tag} = {arguments[k]}")
        elif param in defaults:
            lines.append(f"{param}{tag} = {ast.unparse(defaults[param])}")
        else:
            raise Uninlinable(f"{fn.__qualname__} needs argument {param!r}")
    module = ast.Module(_returns_to_assignments(body, result, fn), type_ignores=[])
    lines.extend(ast.unparse(ast.fix_missing_locations(module)).splitlines())
    return lines


def _global(
    name: str, fn: Callable[..., Any], namespace: dict[str, Any], reserved: frozenset[str]
) -> str:
    """The name under which ``namespace`` holds the global ``name`` of fn's module."""
    if name in fn.__globals__:
        value = fn.__globals__[name]
    elif hasattr(builtins, name) and name not in reserved:
        return name
    else:
        raise Uninlinable(f"{fn.__qualname__} uses {name!r}, which its module does not define")
    alias, k = name, 1
    while alias in reserved or (alias in namespace and namespace[alias] is not value):
        alias, k = f"{name}_{k}", k + 1
    namespace[alias] = value
    return alias


class _Rewrite(ast.NodeTransformer):
    """Rename locals and globals, and turn the ctx's uses into plain names (see the table)."""

    def __init__(self, ctx: str, tag: str, renames: dict[str, str], needs: tuple[bool, ...]):
        self.ctx, self.tag, self.renames, self.needs = ctx, tag, renames, needs

    def visit_body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for statement in body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                continue  # a docstring
            out.append(self.visit(statement))
        return out

    def _is_ctx(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id == self.ctx

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and self._is_ctx(call.func.value)
            and call.func.attr == "save"
        ):
            values = ast.Tuple([self.visit(a) for a in call.args], ast.Load())
            target = ast.Name(f"saved{self.tag}", ast.Store())
            return ast.copy_location(ast.Assign([target], values), node)
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if not self._is_ctx(node.value):
            return self.generic_visit(node)
        if node.attr == "needs_input_grad":
            return ast.copy_location(ast.Constant(self.needs), node)
        if node.attr == "saved":
            return ast.copy_location(ast.Name(f"saved{self.tag}", node.ctx), node)
        if node.attr == "save":
            raise Uninlinable("ctx.save used other than as a statement")
        return ast.copy_location(ast.Name(f"ctx_{node.attr}{self.tag}", node.ctx), node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.ctx:
            raise Uninlinable("the ctx is used as a value")
        return ast.copy_location(ast.Name(self.renames.get(node.id, node.id), node.ctx), node)


def _holds_return(statement: ast.stmt) -> bool:
    return any(isinstance(node, ast.Return) for node in ast.walk(statement))


def _returns_to_assignments(
    body: list[ast.stmt], result: str, fn: Callable[..., Any]
) -> list[ast.stmt]:
    """The body with each ``return v`` made ``result = v``, ending its path."""
    out: list[ast.stmt] = []
    for k, statement in enumerate(body):
        if isinstance(statement, ast.Return):
            value = statement.value if statement.value is not None else ast.Constant(None)
            out.append(ast.Assign([ast.Name(result, ast.Store())], value))
            return out
        if isinstance(statement, ast.If) and _holds_return(statement):
            rest = body[k + 1:]
            statement = ast.If(
                statement.test,
                _returns_to_assignments(statement.body + rest, result, fn),
                _returns_to_assignments(statement.orelse + rest, result, fn),
            )
            out.append(statement)
            return out
        if _holds_return(statement):
            raise Uninlinable(f"{fn.__qualname__} returns from inside a loop, with or try")
        out.append(statement)
    raise Uninlinable(f"{fn.__qualname__} has a path that does not return")
