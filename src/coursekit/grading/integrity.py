"""Grading does not trust the learner's namespace.

Test cells run in the learner's kernel, after the learner's code: whatever that code patches
(the toolkit, builtins, the libraries under test, IPython's own hooks, the names test cells
use) could turn a failing exercise into points. Two independent guards catch it, and a
submission that trips either is held for review (every exercise scores 0 until an instructor
accepts it):

1. `scan(submission, source, release)`: every code cell the learner wrote or changed is read as
   a syntax tree (after IPython's own transforms, so magics and `!` lines are seen too), and
   constructs no exercise of the course needs are reported: code run from strings, imports of
   the toolkit's internals, `importlib`, `builtins`, `unittest.mock`, interpreter hooks,
   attributes set on imported modules and classes, rebinding names the course provides and test cells read,
   comparison dunders that can always say yes, IPython's hooks.
2. `guard(nb, nonce)`: a first cell (before any learner code) records IPython's hooks and gives
   the kernel a private copy of data/; a last cell (after every test) reports, keyed by a
   per-run nonce, the fingerprints of the toolkit's and the tested libraries' functions (their
   code), builtins, tracing hooks, IPython's hooks and the error display, the namespace's
   toolkit names, and data/ and the toolkit's files on disk. `verdict(graded, nonce)` compares
   that report with the grader's own process; a missing report (the kernel died, or the cell
   was rewritten) is a finding too.

Neither guard is a sandbox: a learner who reads this file can still find a way. They make
every way a learner plausibly finds (the kinds in tests/hostile_submissions.py) visible.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .lint import is_answer_cell, is_test_cell, nbgrader_meta

# -- 1. the syntax-tree scan ------------------------------------------------------------------

DENIED_MODULES = {
    "builtins": "imports builtins",
    "importlib": "imports importlib",
    "ctypes": "imports ctypes",
    "gc": "imports gc",
    "inspect": "imports inspect",
    "IPython": "imports IPython",
    "ipykernel": "imports ipykernel",
    "unittest": "imports unittest.mock (objects that equal anything)",
    "mock": "imports mock (objects that equal anything)",
    "marshal": "imports marshal",
    "imp": "imports imp",
    "runpy": "imports runpy",
    "code": "imports code",
    "codeop": "imports codeop",
}
DENIED_CALLS = {
    "exec": "runs code from a string (exec)",
    "eval": "runs code from a string (eval)",
    "compile": "compiles code from a string",
    "__import__": "imports through __import__",
    "globals": "reaches the notebook namespace through globals()",
    "locals": "reaches a namespace through locals()",
    "vars": "reaches a namespace through vars()",
    "setattr": "sets attributes through setattr()",
    "delattr": "deletes attributes through delattr()",
    "get_ipython": "uses IPython's shell (get_ipython)",
    "breakpoint": "calls breakpoint()",
}
# Attribute names that reach into the interpreter, the kernel or code objects.
DENIED_ATTRIBUTES = {
    "__dict__", "__code__", "__globals__", "__builtins__", "__closure__", "__defaults__", "__kwdefaults__",
    "__subclasses__", "__bases__", "__mro__", "__getattribute__", "__setattr__", "__delattr__", "__import__",
    "__loader__", "__spec__", "__wrapped__", "__func__", "__self__",
    "settrace", "setprofile", "_getframe", "_current_frames", "addaudithook", "setrecursionlimit",
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "f_trace", "gi_frame", "cr_frame", "ag_frame",
    "tb_frame", "tb_next", "_exit", "abort", "set_custom_exc", "input_transformers_cleanup",
    "input_transformers_post", "ast_transformers", "user_ns", "user_global_ns", "showtraceback", "_showtraceback",
    "CustomTB", "reload", "import_module",
}
# Dunders that let an object claim to equal (or be) anything a test compares it with.
DENIED_METHODS = {
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__instancecheck__",
    "__subclasscheck__", "__getattribute__", "__class__",
}
TOOLKIT = "coursekit"
# What FakeLLM counts, and tests read to prove concurrency and calls.
MODEL_COUNTERS = {"calls", "active", "peak_active", "completed", "failed", "cancelled", "tokens_streamed", "prompts"}


@dataclass(frozen=True)
class Finding:
    cell: str   # grade id, or "cell N" for a cell without one
    line: int
    reason: str
    code: str   # the line, shortened

    def __str__(self) -> str:
        return f"{self.reason} ({self.cell}, line {self.line}: {self.code!r})"


def _python_source(source: str) -> str:
    """The cell as IPython runs it: magics and `!` lines become calls to get_ipython()."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def parse_cell(source: str) -> ast.Module | None:
    try:
        return compile(_python_source(source), "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return None  # a cell that does not parse cannot run either


def top_level_bindings(tree: ast.Module) -> set[str]:
    """Names a cell binds in the notebook namespace (assignments, defs, classes, imports, loops, with)."""
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                names.add(sub.id)
            elif isinstance(sub, ast.Starred):
                continue

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                for target in getattr(node, "targets", None) or [node.target]:
                    if isinstance(target, (ast.Name, ast.Tuple, ast.List, ast.Starred)):
                        targets(target)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target)
                visit(node.body + node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
                visit(node.body)
            elif isinstance(node, ast.If | ast.While):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try | ast.TryStar):
                for handler in node.handlers:
                    if handler.name:
                        names.add(handler.name)
                    visit(handler.body)
                visit(node.body + node.orelse + node.finalbody)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    visit(case.body)
        for sub in ast.walk(ast.Module(body=list(statements), type_ignores=[])):
            if isinstance(sub, ast.NamedExpr):
                names.add(sub.target.id)

    visit(tree.body)
    return names


def free_names(tree: ast.Module) -> set[str]:
    """Names a cell reads from the notebook: not bound by the cell itself, nor local to one of its functions."""
    free: set[str] = set()

    def local_names(node: ast.AST) -> set[str]:
        args = node.args
        names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = node.body if isinstance(node.body, list) else [node.body]
        declared = {n for sub in body for item in ast.walk(sub) if isinstance(item, (ast.Global, ast.Nonlocal)) for n in item.names}
        for sub in body:
            for item in ast.walk(sub):
                if isinstance(item, ast.Name) and isinstance(item.ctx, (ast.Store, ast.Del)):
                    names.add(item.id)
                elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(item.name)
                elif isinstance(item, (ast.Import, ast.ImportFrom)):
                    names |= {(a.asname or a.name).split(".")[0] for a in item.names}
                elif isinstance(item, ast.ExceptHandler) and item.name:
                    names.add(item.name)
        return names - declared

    def visit(node: ast.AST, scope: set[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            outside = args.defaults + [d for d in args.kw_defaults if d is not None]
            if not isinstance(node, ast.Lambda):  # annotations are read where the function is defined
                outside += [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs
                            + [args.vararg, args.kwarg] if a is not None and a.annotation is not None]
                outside += [node.returns] if node.returns is not None else []
            for item in outside:
                visit(item, scope)
            for decorator in getattr(node, "decorator_list", []):
                visit(decorator, scope)
            inner = scope | local_names(node)
            for sub in (node.body if isinstance(node.body, list) else [node.body]):
                visit(sub, inner)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = scope | {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            for child in ast.iter_child_nodes(node):
                visit(child, inner)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in scope:
            free.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(tree, set())
    return free - top_level_bindings(tree)


def imported_names(tree: ast.Module) -> dict[str, str]:
    """name bound by an import -> the module path it came from."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _root(node: ast.AST) -> ast.Name | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _line(source_lines: list[str], number: int) -> str:
    return source_lines[number - 1].strip()[:80] if 0 < number <= len(source_lines) else ""


@dataclass
class Context:
    """What the scan needs to know about the notebook: what the course wrote, and what tests read."""

    trusted_sources: set[str]          # code cells as the course released them (unchanged = trusted)
    protected: set[str]                # names test cells read from the notebook, and the toolkit's names
    allowed: dict[str, set[str]]       # answer grade id -> names its exercise asks the learner to define
    imported: dict[str, str]           # names the course's own cells import -> module path
    test_ids: set[str]                 # grade ids of test cells (nbgrader restores them at grading)

    @classmethod
    def of(cls, source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> Context:
        import coursekit

        trusted = {c.source for c in release.cells if c.cell_type == "code" and not is_answer_cell(c)}
        allowed: dict[str, set[str]] = {}
        imported: dict[str, str] = {}
        test_ids = set()
        read_by_tests: set[str] = set()
        bound_by_course: set[str] = set()  # by set-up, demo and test cells: what the learner does not write
        for cell in source.cells:
            if cell.cell_type != "code":
                continue
            tree = parse_cell(cell.source)
            if tree is None:
                continue
            grade_id = nbgrader_meta(cell).get("grade_id")
            if is_test_cell(cell):
                test_ids.add(grade_id)
                read_by_tests |= free_names(tree)
            if is_answer_cell(cell):
                allowed[grade_id] = top_level_bindings(tree)
            else:
                imported |= imported_names(tree)
                bound_by_course |= top_level_bindings(tree)
        # Names the tests rely on that the course itself provides; what answers define is the learner's.
        answers_define = set().union(*allowed.values()) if allowed else set()
        protected = ((read_by_tests & bound_by_course) | set(coursekit.__all__) | {"coursekit"}) - answers_define
        protected -= set(dir(builtins))
        return cls(trusted, protected, allowed, imported, test_ids)


class _Scanner(ast.NodeVisitor):
    def __init__(self, context: Context, cell: str, allowed: set[str], lines: list[str]) -> None:
        self.context, self.cell, self.allowed, self.lines = context, cell, allowed, lines
        self.findings: list[Finding] = []
        self.function_locals: list[set[str]] = []
        self.imported: dict[str, str] = dict(context.imported)
        self.bound_here: set[str] = set()

    def flag(self, node: ast.AST, reason: str) -> None:
        line = getattr(node, "lineno", 0)
        finding = Finding(self.cell, line, reason, _line(self.lines, line))
        if finding not in self.findings:
            self.findings.append(finding)

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
            self.imported[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._check_module(node, module)
        if module == TOOLKIT:
            import coursekit

            for alias in node.names:
                if alias.name == "*" or alias.name not in coursekit.__all__:
                    self.flag(node, f"imports the toolkit's internals ({module}.{alias.name})")
        for alias in node.names:
            self.imported[alias.asname or alias.name] = f"{module}.{alias.name}"
        self.generic_visit(node)

    def _check_module(self, node: ast.AST, module: str) -> None:
        root = module.split(".")[0]
        if root in DENIED_MODULES and not (root == "unittest" and module not in ("unittest", "unittest.mock")):
            self.flag(node, DENIED_MODULES[root])
        if root == TOOLKIT and module != TOOLKIT:
            self.flag(node, f"imports the toolkit's internals ({module})")

    # calls, names, attributes
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in DENIED_CALLS:
            self.flag(node, DENIED_CALLS[func.id])
        if isinstance(func, ast.Name) and func.id == "type" and len(node.args) == 3:
            self.flag(node, "builds a class with type(name, bases, dict)")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "__import__", "__loader__", "__spec__"):
            self.flag(node, f"uses {node.id}")
        if isinstance(node.ctx, ast.Store) and node.id in DENIED_METHODS and self.function_locals == []:
            self.flag(node, f"defines {node.id}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in DENIED_ATTRIBUTES:
            self.flag(node, f"uses the attribute {node.attr}")
        elif node.attr == "modules" and isinstance(node.value, ast.Name) and self.imported.get(node.value.id) == "sys":
            self.flag(node, "touches sys.modules")
        elif node.attr == "__class__" and isinstance(node.ctx, ast.Store):
            self.flag(node, "assigns __class__")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value in DENIED_METHODS | DENIED_ATTRIBUTES and node.value.startswith("__"):
            self.flag(node, f"names {node.value} in a string")

    # definitions
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in DENIED_METHODS:
                self.flag(item, f"defines {item.name} (an object that can claim to equal anything a test compares)")
            elif isinstance(item, ast.Assign):
                for target in item.targets:
                    if isinstance(target, ast.Name) and target.id in DENIED_METHODS:
                        self.flag(item, f"defines {target.id}")
        self.function_locals.append(set())
        self.generic_visit(node)
        self.function_locals.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        assigned = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        declared_global = {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}
        for name in declared_global & (self.context.protected - self.allowed):
            self.flag(node, f"rebinds {name!r}, which the test cells use (global)")
        self.function_locals.append(params | (assigned - declared_global))
        self.generic_visit(node)
        self.function_locals.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_function

    # stores through attributes and subscripts
    def _check_store(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_store(element)
            return
        if isinstance(target, ast.Starred):
            self._check_store(target.value)
            return
        if not isinstance(target, (ast.Attribute, ast.Subscript)):
            return
        root = _root(target)
        if root is None:
            return
        if isinstance(target, ast.Attribute) and target.attr in MODEL_COUNTERS and root.id not in ("self", "cls"):
            self.flag(target, f"sets the fake model's counter {target.attr!r}")
        local = any(root.id in scope for scope in self.function_locals)
        if local:
            return
        module = self.imported.get(root.id)
        if module is not None and root.id not in self.bound_here:
            self.flag(target, f"changes {module.split('.')[0]} from outside (sets an attribute or item of {root.id!r})")
        elif root.id in self.context.protected and root.id not in self.allowed and root.id not in self.bound_here:
            self.flag(target, f"changes {root.id!r}, which the test cells use")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_store(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_store(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_store(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_store(target)
        self.generic_visit(node)


def _same_import(name: str, path: str, context: Context) -> bool:
    import coursekit

    if context.imported.get(name) == path:
        return True
    return path == "coursekit" == name or (path == f"coursekit.{name}" and name in coursekit.__all__)


def scan_cell(source: str, context: Context, cell: str, answer_id: str | None) -> list[Finding]:
    """Findings for one code cell that the learner wrote or changed."""
    tree = parse_cell(source)
    if tree is None:
        return []
    allowed = context.allowed.get(answer_id, set()) if answer_id else set()
    scanner = _Scanner(context, cell, allowed, _python_source(source).splitlines())
    bindings = top_level_bindings(tree)
    imports = imported_names(tree)
    # Names this cell binds itself (other than by import) are its own objects to change.
    scanner.bound_here = bindings - set(imports)
    # Importing a name again from where the course imports it binds the very same object.
    same = {name for name, path in imports.items() if _same_import(name, path, context)}
    for name in sorted((bindings & context.protected) - allowed - same):
        statement = next((n for n in tree.body if name in top_level_bindings(ast.Module(body=[n], type_ignores=[]))), tree.body[0])
        scanner.flag(statement, f"rebinds {name!r}, which the test cells use")
    scanner.visit(tree)
    return scanner.findings


def scan(submission: nbformat.NotebookNode, source: nbformat.NotebookNode, release: nbformat.NotebookNode,
         context: Context | None = None) -> list[Finding]:
    """Findings for every code cell the learner wrote or changed (released cells left as they were are trusted)."""
    context = context or Context.of(source, release)
    findings: list[Finding] = []
    for index, cell in enumerate(submission.cells):
        if cell.cell_type != "code":
            continue
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in context.test_ids:
            continue  # nbgrader puts the course's test cell back before grading
        if grade_id not in context.allowed and cell.source in context.trusted_sources:
            continue
        findings += scan_cell(cell.source, context, grade_id or f"cell {index}", grade_id if grade_id in context.allowed else None)
    return findings


# -- 2. the integrity cells -------------------------------------------------------------------

MARK = "COURSE-INTEGRITY"
# The toolkit, the libraries that test cells lean on, and IPython's error display.
WATCHED = ("coursekit", "httpx", "httpx_ws", "httpx_sse", "fastapi", "starlette", "jwt", "pwdlib", "asgi_lifespan",
           "json", "IPython.core.interactiveshell", "ipykernel.zmqshell", "ipykernel.ipkernel")

# Runs in the kernel, first and last; it imports only what it needs, under private names.
_COMMON = r'''
def _ci_const(const):
    # A stable text for a constant: sets are sorted (their order changes with hash randomization).
    if hasattr(const, "co_code"):
        return _ci_fingerprint_code(const)
    if isinstance(const, (frozenset, set)):
        return "{" + ",".join(sorted(_ci_const(c) for c in const)) + "}"
    if isinstance(const, tuple):
        return "(" + ",".join(_ci_const(c) for c in const) + ")"
    return repr(const)


def _ci_fingerprint_code(code):
    import hashlib as _h
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    parts += [_ci_const(c).encode() for c in code.co_consts]
    return _h.sha256(b"\0".join(parts)).hexdigest()[:16]


def _ci_functions(module):
    # A fingerprint of each function's code, and of each method of the module's classes.
    import types as _t
    out = {}
    for name, value in list(vars(module).items()):
        if isinstance(value, _t.FunctionType) and value.__module__ == module.__name__:
            out[name] = _ci_fingerprint_code(value.__code__)
        elif isinstance(value, type) and value.__module__ == module.__name__:
            for attr, member in list(vars(value).items()):
                for part, function in (("", member), (".fget", getattr(member, "fget", None)),
                                       (".fset", getattr(member, "fset", None)),
                                       (".func", getattr(member, "__func__", None))):
                    if isinstance(function, _t.FunctionType):
                        out[f"{name}.{attr}{part}"] = _ci_fingerprint_code(function.__code__)
    return out


def _ci_files(folder, suffixes):
    import hashlib as _h, os as _o
    out = {}
    if folder and _o.path.isdir(folder):
        for base, _dirs, files in _o.walk(folder):
            for name in files:
                if name.endswith(suffixes):
                    path = _o.path.join(base, name)
                    with open(path, "rb") as f:
                        out[_o.path.relpath(path, folder)] = _h.sha256(f.read()).hexdigest()[:16]
    return out


def _ci_hooks():
    import sys as _s, threading as _th
    shell = get_ipython()
    def names(items):
        return [getattr(i, "__qualname__", type(i).__qualname__) for i in items]
    return {
        "cleanup": names(shell.input_transformers_cleanup),
        "post": names(shell.input_transformers_post),
        "ast": names(shell.ast_transformers),
        "events": {event: names(callbacks) for event, callbacks in shell.events.callbacks.items()},
        "instance": sorted(k for k in ("showtraceback", "_showtraceback", "run_cell", "run_code", "run_ast_nodes",
                                       "transform_cell", "showsyntaxerror") if k in vars(shell)),
        "custom_exceptions": [e.__name__ for e in shell.custom_exceptions],
        "display": sorted(f"{c.cell_contents.__module__}.{c.cell_contents.__qualname__}"
                          for c in (getattr(getattr(shell.CustomTB, "__func__", None), "__closure__", None) or ())
                          if callable(c.cell_contents) and hasattr(c.cell_contents, "__qualname__")),
        "trace": [repr(_s.gettrace()), repr(_s.getprofile()), repr(getattr(_th, "_trace_hook", None)),
                  repr(getattr(_th, "_profile_hook", None))],
        "streams": [type(_s.stdout).__qualname__, type(_s.stderr).__qualname__],
    }
'''

PROLOGUE = _COMMON + r'''
def _ci_prologue(nonce):
    import json as _j, os as _o, shutil as _sh, tempfile as _tf
    import coursekit as _ck
    private = _tf.mkdtemp(prefix="course-data-")
    _sh.copytree(str(_ck.data_dir()), private, dirs_exist_ok=True)
    _o.environ["COURSE_DATA_DIR"] = private  # this submission's own copy of data/: what it writes stays there
    _ck.data_dir.cache_clear()
    print("MARK-first", nonce, _j.dumps({"hooks": _ci_hooks()}))


_ci_prologue("NONCE")
'''.replace("MARK", MARK)

EPILOGUE = _COMMON + r'''
def _ci_epilogue(nonce, watched):
    import builtins as _b, json as _j, os as _o, sys as _s
    report = {"modules": {}, "files": {}, "builtins": [], "namespace": [], "canary": "", "hooks": _ci_hooks()}
    for name in watched:
        for loaded in sorted(n for n in list(_s.modules) if n == name or n.startswith(name + ".")):
            module = _s.modules.get(loaded)
            report["modules"][loaded] = {"file": getattr(module, "__file__", None),
                                         "functions": _ci_functions(module) if module is not None else {}}
    for name, value in list(vars(_b).items()):
        if name.startswith("_"):
            continue
        static = isinstance(value, type) and not (value.__flags__ & (1 << 9))  # a C type, not a heap type
        report["builtins"].append([name, type(value).__name__, static])
    import coursekit as _ck
    namespace = get_ipython().user_ns
    report["namespace"] = sorted(n for n in _ck.__all__ if n in namespace and namespace[n] is not getattr(_ck, n))
    report["files"]["data"] = _ci_files(str(_ck.data_dir()), (".json", ".csv", ".txt", ".md", ".jsonl"))
    report["files"]["toolkit"] = _ci_files(_o.path.dirname(_ck.__file__), (".py",))
    try:
        _ck.expect(False, "canary")
        report["canary"] = "expect(False) did not fail"
    except _ck.CheckFailed:
        report["canary"] = "ok"
    except BaseException as error:
        report["canary"] = f"expect(False) raised {type(error).__name__}"
    print("MARK-last", nonce, _j.dumps(report))


_ci_epilogue("NONCE", WATCHED)
'''.replace("MARK", MARK).replace("WATCHED", repr(WATCHED))


# Event callbacks that libraries register on their own: matplotlib's pyplot draws and flushes
# figures after each cell.
KNOWN_HOOKS = {"flush_figures", "_draw_all_if_interactive"}

# Builtins that IPython itself replaces in every kernel.
IPYTHON_BUILTINS = {"exit", "quit", "input", "help", "copyright", "credits", "license", "display", "get_ipython"}


def guard(nb: nbformat.NotebookNode, nonce: str) -> nbformat.NotebookNode:
    """A copy of `nb` with the first and last integrity cells (plain cells: nbgrader runs, never grades them)."""
    guarded = nbformat.from_dict(json.loads(json.dumps(nb)))
    first = nbformat.v4.new_code_cell(PROLOGUE.replace("NONCE", nonce))
    last = nbformat.v4.new_code_cell(EPILOGUE.replace("NONCE", nonce))
    for cell in (first, last):
        cell.metadata["course_integrity"] = True
    guarded.cells = [first, *guarded.cells, last]
    return guarded


def _report(nb: nbformat.NotebookNode, which: str, nonce: str) -> dict | None:
    prefix = f"{MARK}-{which} {nonce} "
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.metadata.get("course_integrity"):
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")
        for line in text.splitlines():
            if line.startswith(prefix):
                try:
                    return json.loads(line[len(prefix):])
                except ValueError:
                    return None
    return None


_EXPECTED: dict[str, dict] = {}


def _expected_module(name: str) -> dict | None:
    """The grader's own fingerprint of a module (imported here, where no learner code runs)."""
    if name not in _EXPECTED:
        try:
            with warnings.catch_warnings():  # importing e.g. fastapi.testclient warns; grading stays quiet
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module the grader cannot import is not compared
            _EXPECTED[name] = None
        else:
            namespace: dict = {}
            exec(compile(_COMMON, "<integrity>", "exec"), namespace)  # noqa: S102 - the course's own code
            _EXPECTED[name] = {"file": getattr(module, "__file__", None), "functions": namespace["_ci_functions"](module)}
    return _EXPECTED[name]


def _expected_files() -> dict[str, dict[str, str]]:
    import coursekit

    namespace: dict = {"get_ipython": None}
    exec(compile(_COMMON, "<integrity>", "exec"), namespace)  # noqa: S102 - the course's own code
    return {"data": namespace["_ci_files"](str(coursekit.data_dir()), (".json", ".csv", ".txt", ".md", ".jsonl")),
            "toolkit": namespace["_ci_files"](str(Path(coursekit.__file__).parent), (".py",))}


def verdict(graded: nbformat.NotebookNode, nonce: str) -> list[str]:
    """Reasons to hold a graded notebook for review; [] when the integrity report is clean."""
    first, last = _report(graded, "first", nonce), _report(graded, "last", nonce)
    if first is None:
        return ["the integrity check did not run before the notebook's cells"]
    if last is None:
        return ["the integrity check did not run after the tests (the kernel died or a later cell was rewritten)"]
    reasons = []
    changed = [name for name in ("cleanup", "post", "ast", "instance", "custom_exceptions")
               if first["hooks"][name] != last["hooks"][name]]
    for event in sorted(set(first["hooks"]["events"]) | set(last["hooks"]["events"])):
        before, after = first["hooks"]["events"].get(event, []), last["hooks"]["events"].get(event, [])
        added = [name for name in after if name not in before and name not in KNOWN_HOOKS]
        if added or any(name not in after for name in before):
            changed.append(f"events.{event}")
    if changed:
        reasons.append(f"IPython's hooks were changed ({', '.join(changed)})")
    if last["hooks"]["custom_exceptions"] != ["Exception"] or "coursekit._ipython._show_error" not in last["hooks"]["display"]:
        reasons.append("the error display for failed checks was replaced")
    if any(value not in ("None",) for value in last["hooks"]["trace"]):
        reasons.append("a tracing or profiling hook is installed")
    if first["hooks"]["streams"] != last["hooks"]["streams"]:
        reasons.append("sys.stdout or sys.stderr was replaced")
    patched = []
    for name, got in last["modules"].items():
        want = _expected_module(name)
        if want is None:
            continue
        if got["file"] != want["file"]:
            patched.append(f"{name} (replaced by another module)")
            continue
        # Compare what both sides have (libraries add some names lazily); the toolkit must be whole.
        keys = set(want["functions"]) if name.split(".")[0] == "coursekit" else set(want["functions"]) & set(got["functions"])
        differs = sorted(k for k in keys if got["functions"].get(k) != want["functions"][k])
        if differs:
            patched.append(f"{name}.{differs[0]}" + (f" and {len(differs) - 1} more" if len(differs) > 1 else ""))
    if patched:
        reasons.append(f"library or toolkit code was changed: {', '.join(patched[:4])}")
    expected_builtins = {name: value for name, value in vars(builtins).items()
                         if not name.startswith("_") and name not in IPYTHON_BUILTINS}
    got_builtins = {entry[0]: entry for entry in last["builtins"]}
    bad = []
    for name, value in expected_builtins.items():
        entry = got_builtins.get(name)
        static = isinstance(value, type) and not (value.__flags__ & (1 << 9))
        if entry is None or entry[1] != type(value).__name__ or entry[2] != static:
            bad.append(name)
    if bad:
        reasons.append(f"builtins were changed: {', '.join(sorted(bad)[:5])}")
    if last["namespace"]:
        reasons.append(f"toolkit names were rebound in the notebook: {', '.join(last['namespace'])}")
    if last["canary"] != "ok":
        reasons.append(f"the toolkit's checks no longer fail ({last['canary']})")
    files = _expected_files()
    for kind, want in files.items():
        got = last["files"].get(kind, {})
        differs = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        if differs:
            reasons.append(f"{'data/' if kind == 'data' else 'the toolkit'} files were changed: {', '.join(differs[:3])}")
    return reasons


def new_nonce() -> str:
    import secrets

    return secrets.token_hex(8)


def hold_reasons(graded: nbformat.NotebookNode | None, nonce: str, findings: list[Finding]) -> list[str]:
    """Every reason to hold a submission: what the scan found, and what the integrity report says."""
    reasons = [f"tampering suspected: {finding}" for finding in findings]
    if graded is not None:
        reasons += [f"integrity check: {reason}" for reason in verdict(graded, nonce)]
    return reasons

