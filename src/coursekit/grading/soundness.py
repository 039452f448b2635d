"""The grading contract, checked through real nbgrader.

- the release in notebooks/ is exactly what generate_assignment makes from solutions/;
- the solution scores full points on every test cell;
- the released stub scores zero on every test cell (hidden tests included);
- every mutant loses points on its own exercise;
- every alternative (a correct answer written another way) scores full points;
- an unfinished exercise never costs another one points (isolation rounds);
- every requirement an exercise states is broken by some mutant.

Exercises are independent by design, so one graded notebook (a round) carries a mutant of
every exercise at once: a notebook's whole contract is one generate_assignment and one
autograde run of about a dozen rounds, not one run per mutant.

Each function returns a list of problems; each problem names the notebook and the cell.
"""

from __future__ import annotations

import copy
import filecmp
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from pathlib import Path

import nbformat

from .course import Course
from . import integrity
from .lint import exercises, nbgrader_meta
from .mutants import MutantError, Requirement, Variant, load_alternatives, load_mutants, load_requirements
from .nbgrader import CellResult, Scratch

SOLUTION, STUB, LEAN = "reference-solution", "reference-stub", "lean-solution"
CELL_TIMEOUT = 30  # as autograder/nbgrader_config.py gives every cell


def generate_release(course: Course, assignment: str, into: Path) -> None:
    """Run nbgrader generate_assignment and copy the release folder to `into`."""
    with Scratch(course, assignment) as scratch:
        generated = scratch.generate()
        if into.exists():
            shutil.rmtree(into)
        shutil.copytree(generated, into)


def check_release_in_sync(course: Course, assignment: str, scratch_dir: Path) -> list[str]:
    fresh = scratch_dir / assignment
    generate_release(course, assignment, fresh)
    return _compare_release(course, assignment, fresh)


def _compare_release(course: Course, assignment: str, fresh: Path) -> list[str]:
    committed = course.release / assignment
    if not committed.exists():
        return [f"notebooks/{assignment}: missing; run `make release`"]
    problems = []
    comparison = filecmp.dircmp(fresh, committed, ignore=[".ipynb_checkpoints", "__pycache__"])
    for name in comparison.left_only:
        problems.append(f"notebooks/{assignment}/{name}: missing from the release; run `make release`")
    for name in comparison.right_only:
        problems.append(f"notebooks/{assignment}/{name}: not made by generate_assignment; run `make release`")
    for name in comparison.diff_files:
        problems.append(f"notebooks/{assignment}/{name}: differs from the generated release"
                        f"{_first_differing_cell(fresh / name, committed / name)}; run `make release`")
    return problems


def _first_differing_cell(generated: Path, committed: Path) -> str:
    if generated.suffix != ".ipynb":
        return ""
    try:
        a = nbformat.read(str(generated), as_version=4)
        b = nbformat.read(str(committed), as_version=4)
    except Exception:  # noqa: BLE001
        return " (not a readable notebook)"
    for index, (x, y) in enumerate(zip(a.cells, b.cells)):
        if x != y:
            return f" at cell {index}"
    if len(a.cells) != len(b.cells):
        return f" ({len(a.cells)} cells generated, {len(b.cells)} committed)"
    return " (notebook metadata or formatting)"


def autograde(course: Course, assignment: str, submissions: dict[str, nbformat.NotebookNode]) -> dict[str, dict[str, CellResult]]:
    with Scratch(course, assignment) as scratch:
        scratch.generate()
        for student, nb in submissions.items():
            scratch.submit(student, nb)
        return scratch.autograde()


def _graded(results: dict[str, CellResult], test_id: str) -> CellResult:
    return results.get(test_id, CellResult(0.0, 0.0, "not graded (cell missing from the gradebook)"))


# -- rounds: several checks carried by one graded notebook -------------------------------------
# Exercises are independent by design, so one notebook can carry a mutant of every exercise at
# once, and one autograde run grades them all. Independence itself is proven by isolation rounds.
FULL, ZERO, LOSES, ANY = "full", "zero", "loses", "any"


@dataclass
class Round:
    """One notebook to grade, and what each exercise's test cell must score in it."""

    student: str
    notebook: nbformat.NotebookNode
    expect: dict[str, str]                                       # answer id -> FULL | ZERO | LOSES | ANY
    carries: dict[str, Variant] = field(default_factory=dict)  # answer id -> the variant it carries
    stubbed: list[str] = field(default_factory=list)            # answer ids replaced by the released stub
    integrity: bool = True                                      # False for rounds that tamper on purpose
    pairs: dict[str, str] = field(default_factory=dict)         # test grade id -> answer grade id


def _stub_cells(course: Course, assignment: str) -> dict[str, nbformat.NotebookNode]:
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    return {nbgrader_meta(c)["grade_id"]: c for c in release.cells if nbgrader_meta(c).get("grade_id")}


def isolation_sets(count: int) -> list[set[int]]:
    """Rounds of exercises to stub so that for every pair (a, b) some round stubs a and not b.

    Exercise i is stubbed in the rounds of the i-th subset of an antichain (all subsets of one
    size, Sperner): no subset contains another, which is exactly the property needed.
    """
    if count < 2:
        return []
    n = 2
    while comb(n, n // 2) < count:
        n += 1
    subsets = list(combinations(range(n), n // 2))[:count]
    return [{i for i, subset in enumerate(subsets) if r in subset} for r in range(n)]


def plan_rounds(course: Course, assignment: str, mutants: list[Variant] | None = None,
                alternatives: list[Variant] | None = None, *, reference: bool = True,
                isolation: bool = True) -> list[Round]:
    """The notebooks that prove the grading contract of one assignment, and what each must score."""
    solution = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    pairs = exercises(course.source_notebook(assignment))
    answers = [a for a, _, _ in pairs]
    test_to_answer = {t: a for a, t, _ in pairs}
    rounds: list[Round] = []
    if reference:
        stub = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
        rounds.append(Round(SOLUTION, solution, dict.fromkeys(answers, FULL)))
        rounds.append(Round(STUB, stub, dict.fromkeys(answers, ZERO)))
    # Each exercise's mutants (must lose points) and alternatives (must keep full points), one of
    # each exercise per round; an exercise with none left carries the solution and keeps full points.
    variants = [*(mutants or []), *(alternatives or [])]
    by_answer = {a: [v for v in variants if v.answer == a] for a in answers}
    for j in range(max((len(v) for v in by_answer.values()), default=0)):
        nb = copy.deepcopy(solution)
        carries = {}
        for answer_id, own in by_answer.items():
            if j < len(own):
                own[j].apply_in_place(nb)
                carries[answer_id] = own[j]
        round_expect = {a: (LOSES if a in carries and carries[a].kind == "mutant" else FULL) for a in answers}
        rounds.append(Round(f"variants-{j + 1}", nb, round_expect, carries, pairs=test_to_answer))
    if isolation:
        stubs = _stub_cells(course, assignment)
        for r, members in enumerate(isolation_sets(len(answers))):
            nb = copy.deepcopy(solution)
            stubbed = [answers[i] for i in sorted(members)]
            for cell in nb.cells:
                grade_id = nbgrader_meta(cell).get("grade_id")
                if grade_id in stubbed:
                    cell.source = stubs[grade_id].source
            round_expect = {a: (ANY if a in stubbed else FULL) for a in answers}
            rounds.append(Round(f"isolation-{r + 1}", nb, round_expect, stubbed=stubbed))
    return rounds


# Modules whose calls change the whole kernel (warning filters, logging, environment): a cell that
# calls them is kept in a lean notebook even when nothing later reads what it binds.
KERNEL_WIDE = {"warnings", "logging", "os", "random", "sys", "socket", "nest_asyncio", "nest_asyncio2"}


def _touched_roots(tree, through_calls: bool = False) -> set[str]:
    """Names whose objects a cell changes: roots of attribute calls and of attribute/item stores
    (`app.include_router(r)`, `app.state.x = 1`); with through_calls, also of what calls return
    (`logging.getLogger("x").setLevel(...)`)."""
    import ast

    roots = set()
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target = node
        while isinstance(target, (ast.Attribute, ast.Subscript, ast.Call)):
            if isinstance(target, ast.Call) and not through_calls:
                target = None
                break
            target = target.func if isinstance(target, ast.Call) else target.value
        if isinstance(target, ast.Name):
            roots.add(target.id)
    return roots


FILE_WRITERS = {"write_text", "write_bytes", "mkdir", "touch", "copy", "copy2", "copyfile", "copytree"}


def _writes_files(tree) -> bool:
    """Whether a cell writes to disk (`path.write_text(...)`, `open(p, "w")`, `shutil.copy(...)`):
    what it writes may be read later by name from a file (a module a server imports), not a variable."""
    import ast

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in FILE_WRITERS:
            return True
        if isinstance(node.func, ast.Name) and node.func.id == "open":
            modes = [a for a in node.args[1:2]] + [k.value for k in node.keywords if k.arg == "mode"]
            if any(isinstance(m, ast.Constant) and isinstance(m.value, str) and set(m.value) & set("wax+") for m in modes):
                return True
    return False


def _imported_modules(nb: nbformat.NotebookNode) -> set[str]:
    """Names bound to whole modules by the notebook's imports (calling into them changes nothing)."""
    names = set()
    for cell in nb.cells:
        tree = integrity.parse_cell(cell.source) if cell.cell_type == "code" else None
        if tree is not None:
            names |= {name for name, path in integrity.imported_names(tree).items() if path.split(".")[0] == path}
    return names


def lean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without the cells its exercises do not need: demos that only show something.

    Walking back from the last cell, a plain code cell is kept when it binds or changes a name that
    a kept cell later reads, or calls a kernel-wide module (warnings, logging, os, ...). Graded
    cells are always kept. Whether the result grades like the full notebook is checked, not
    assumed: the lean solution must score full points, or the rounds run in full.
    """
    lean = copy.deepcopy(nb)
    modules = _imported_modules(lean)  # names bound to whole modules anywhere in the notebook
    needed: set[str] = set()
    kept = []
    for cell in reversed(lean.cells):
        if cell.cell_type != "code":
            continue
        tree = integrity.parse_cell(cell.source)
        if nbgrader_meta(cell).get("grade_id"):
            keep = True
        elif tree is None:
            keep = False
        else:
            changes = integrity.top_level_bindings(tree) | (_touched_roots(tree) - modules)
            keep = bool(changes & needed) or bool(_touched_roots(tree, through_calls=True) & KERNEL_WIDE) \
                or _writes_files(tree)
        if keep:
            kept.append(cell)
            if tree is not None:
                needed |= integrity.free_names(tree)
    lean.cells = list(reversed(kept))
    return lean


def sliced_round(rnd: Round) -> nbformat.NotebookNode:
    """A variant round with only what its carried exercises need: the exercises it does not carry
    lose their nbgrader metadata (their cells stay only where a carried one needs them), then the
    demo cells nothing needs go (lean_notebook)."""
    nb = copy.deepcopy(rnd.notebook)
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id and _exercise_of(grade_id, rnd) not in rnd.carries:
            del cell.metadata["nbgrader"]
    return lean_notebook(nb)


def _exercise_of(grade_id: str, rnd: Round) -> str | None:
    """The answer id of the exercise a graded cell belongs to (answer and test cells share it)."""
    return rnd.pairs.get(grade_id, grade_id if grade_id in rnd.expect else None)


def sliced_notebooks(rounds: list[Round], nonce: str) -> list[tuple[Round, nbformat.NotebookNode]]:
    """Each variant round sliced, with grading's integrity cells where the round is an honest one."""
    return [(rnd, integrity.guard(sliced_round(rnd), nonce) if rnd.integrity else sliced_round(rnd)) for rnd in rounds]


def run_direct(prepared: list[tuple[Round, nbformat.NotebookNode]]) -> tuple[dict, dict]:
    """Run sliced variant rounds (sliced_notebooks) with nbclient, as nbgrader's autograde would, and
    grade each test cell with nbgrader's own rule (nbgrader.utils.determine_grade: an error or stderr
    output is 0). It parses no code, so it can run on a thread beside code that does (compiling to a
    syntax tree on two threads at once can fail in CPython 3.11: "AST constructor recursion depth mismatch").

    Returns (student -> grade id -> CellResult, student -> executed notebook). The full-notebook
    runs through real nbgrader (solution, stub, lean solution, isolation rounds) vouch for the rest.
    """
    import tempfile

    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbgrader.utils import determine_grade

    from .nbgrader import cell_errors, execute_notebook, nbgrader_env

    nbgrader_env()  # this Python's bin/ on PATH, as for nbgrader
    results: dict[str, dict[str, CellResult]] = {}
    executed: dict[str, nbformat.NotebookNode] = {}
    for rnd, nb in prepared:
        with tempfile.TemporaryDirectory(prefix="course-round-") as folder:
            try:
                execute_notebook(nb, folder, CELL_TIMEOUT)
            except (CellTimeoutError, DeadKernelError):
                pass  # the cells that ran are graded; the rest score 0, as in nbgrader
        executed[rnd.student] = nb
        cells = {}
        errors = cell_errors(nb)
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            if meta.get("grade") and cell.cell_type == "code":
                score, max_score = determine_grade(cell)
                ran = cell.get("execution_count") is not None
                cells[meta["grade_id"]] = CellResult(float(score or 0) if ran else 0.0, max_score,
                                                     errors.get(meta["grade_id"], "" if ran else "did not run"))
        results[rnd.student] = cells
    return results, executed


def judge(assignment: str, rounds: list[Round], results: dict[str, dict[str, CellResult]],
          pairs: list[tuple[str, str, float]]) -> list[str]:
    """Compare graded rounds with what they must score; one problem per broken expectation."""
    name = f"{assignment}/{assignment}.ipynb"
    problems = []
    for rnd in rounds:
        graded = results.get(rnd.student, {})
        for answer_id, test_id, points in pairs:
            want = rnd.expect.get(answer_id, ANY)
            got = _graded(graded, test_id)
            variant = rnd.carries.get(answer_id)
            where = f"{name}: cell {test_id}"
            if rnd.student == SOLUTION and got.score != points:
                problems.append(f"{where}: the solution scores {got.score:g}/{points:g} ({got.error or 'no error shown'})")
            elif rnd.student == STUB and got.score != 0:
                problems.append(f"{where}: the released stub scores {got.score:g}/{points:g}; this test cell grades nothing")
            elif want == LOSES and got.score >= points:
                problems.append(f"{where}: mutant {variant.name!r} keeps {got.score:g}/{points:g} points; "
                                f"no test catches this mistake: {variant.mistake}")
            elif want == FULL and variant is not None and got.score != points:
                problems.append(f"{where}: alternative {variant.name!r} scores {got.score:g}/{points:g} "
                                f"({got.error or 'no error shown'}); the tests over-specify: {variant.description}")
            elif want == FULL and rnd.stubbed and got.score != points:
                problems.append(f"{where}: scores {got.score:g}/{points:g} when {', '.join(rnd.stubbed)} "
                                f"{'is' if len(rnd.stubbed) == 1 else 'are'} left unfinished (the released stub): "
                                f"exercises must be independent ({got.error or 'no error shown'})")
            elif want == FULL and rnd.student not in (SOLUTION, STUB) and got.score != points:
                others = ", ".join(f"{v.kind} {v.name!r} of {a}" for a, v in rnd.carries.items())
                problems.append(f"{where}: this exercise carries no variant but scores "
                                f"{got.score:g}/{points:g} beside {others}: a variant of another exercise costs points "
                                f"here; exercises must be independent ({got.error or 'no error shown'})")
    return problems


def check_rounds(course: Course, assignment: str, rounds: list[Round], scratch_dir: Path | None = None,
                 notes: list[str] | None = None, sliced: bool = True) -> list[str]:
    """Grade every round in one nbgrader autograde run; with scratch_dir, also check the release is in sync.

    Rounds run with grading's integrity cells and are scanned as submissions are: a correct or
    honestly wrong answer that grading would hold for review is a false alarm, and a problem.
    """
    problems = []
    source = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    context = integrity.Context.of(source, release)
    nonce = integrity.new_nonce()
    pairs = exercises(course.source_notebook(assignment))

    def submit(scratch: Scratch, rnd: Round, lean: bool) -> None:
        nb = lean_notebook(rnd.notebook) if lean else rnd.notebook
        scratch.submit(rnd.student, integrity.guard(nb, nonce) if rnd.integrity else nb)

    # One nbgrader run (generate_assignment, then one autograde) grades the full notebooks (the solution
    # and the stub, as learners get them), a lean copy of the solution, and the other rounds that need
    # nbgrader (isolation), lean; all the while the variant rounds run sliced in plain kernels beside it.
    # Both bet on the lean solution keeping full points: when it does not, the bet is called off and
    # every other round runs again in full through nbgrader.
    first = [r for r in rounds if r.student in (SOLUTION, STUB)]
    rest = [r for r in rounds if r.student not in (SOLUTION, STUB)]
    direct = [r for r in rest if r.carries] if sliced else []
    with Scratch(course, assignment) as scratch, ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run_direct, sliced_notebooks(direct, nonce)) if direct else None
        generated = scratch.generate()
        if scratch_dir is not None:
            problems += _compare_release(course, assignment, generated)
        for rnd in first:
            submit(scratch, rnd, lean=False)
        if rest:
            solution = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
            scratch.submit(LEAN, lean_notebook(solution))
        for rnd in rest:
            if rnd not in direct:
                submit(scratch, rnd, lean=True)
        results = scratch.autograde() if first or rest else {}
        direct_results, executed = running.result() if running else ({}, {})
        lean = bool(rest) and all(_graded(results.get(LEAN, {}), t).score == p for _, t, p in pairs)
        if rest and notes is not None:
            notes.append(f"{len(rest)} rounds ran {'lean (without demo cells)' if lean else 'in full: the lean solution lost points'}")
        if lean:
            # Variant rounds ran sliced (the lean solution and the isolation rounds, through nbgrader, show
            # that slicing keeps what each exercise needs): the exercises they leave out are not graded there.
            results |= direct_results
            for rnd in direct:
                rnd.expect = {a: (want if a in rnd.carries else ANY) for a, want in rnd.expect.items()}
        elif rest:
            executed = {}
            for rnd in rest:
                shutil.rmtree(scratch.root / "autograded" / rnd.student, ignore_errors=True)
                submit(scratch, rnd, lean=False)
            results |= scratch.autograde(only_new=True)
        for rnd in rounds:
            if not rnd.integrity:
                continue
            graded = scratch.root / "autograded" / rnd.student / assignment / f"{assignment}.ipynb"
            findings = integrity.scan(rnd.notebook, source, release, context)
            notebook = executed.get(rnd.student) or (nbformat.read(str(graded), as_version=4) if graded.exists() else None)
            reasons = integrity.hold_reasons(notebook, nonce, findings)
            if reasons:
                problems.append(f"{assignment}/{assignment}.ipynb: round {rnd.student} "
                                f"({', '.join(v.name for v in rnd.carries.values()) or 'no variants'}) would be held for "
                                f"review as tampering (a false alarm): {'; '.join(reasons)}")
    return problems + judge(assignment, rounds, results, pairs)


def check_contract(course: Course, assignment: str, notes: list[str] | None = None) -> list[str]:
    """The whole grading contract of one assignment, through one generate and one autograde run."""
    try:
        mutants = load_mutants(course, assignment)
        alternatives = load_alternatives(course, assignment)
        requirements = load_requirements(course, assignment)
    except MutantError as exc:
        return [str(exc)]
    problems = check_coverage(course, assignment, mutants, alternatives, requirements)
    if problems:  # a variant that does not apply cannot be graded
        applies = [p for p in problems if "occurs" in p or "unknown answer cell" in p or "no answer cell" in p]
        if applies:
            return problems
    rounds = plan_rounds(course, assignment, mutants, alternatives)
    return problems + check_rounds(course, assignment, rounds, scratch_dir=Path("."), notes=notes)


def check_reference(course: Course, assignment: str) -> list[str]:
    """Solution: full points everywhere. Released stub: zero everywhere."""
    return check_rounds(course, assignment, plan_rounds(course, assignment, isolation=False))


def check_mutants(course: Course, assignment: str, mutants: list[Variant], sliced: bool = True) -> list[str]:
    """Each mutant loses points on its own exercise. Unsliced (every exercise in every round, through
    nbgrader), exercises carrying none must also keep full points beside them."""
    if not mutants:
        return []
    rounds = plan_rounds(course, assignment, mutants, reference=False, isolation=False)
    return check_rounds(course, assignment, rounds, sliced=sliced)


def check_alternatives(course: Course, assignment: str, alternatives: list[Variant]) -> list[str]:
    if not alternatives:
        return []
    return check_rounds(course, assignment, plan_rounds(course, assignment, alternatives=alternatives,
                                                        reference=False, isolation=False))


def check_isolation(course: Course, assignment: str) -> list[str]:
    """An unfinished exercise (its released stub) never costs another exercise points."""
    return check_rounds(course, assignment, plan_rounds(course, assignment, reference=False))


MIN_MUTANTS, MIN_ALTERNATIVES = 4, 1


def check_coverage(course: Course, assignment: str, mutants: list[Variant], alternatives: list[Variant] | None = None,
                   requirements: list[Requirement] | None = None, *, minimum: int = MIN_MUTANTS,
                   min_alternatives: int = MIN_ALTERNATIVES) -> list[str]:
    """Enough mutants and alternatives per exercise, every requirement broken by a mutant, every variant applies."""
    alternatives = alternatives or []
    requirements = requirements or []
    source = course.source_notebook(assignment)
    solution = nbformat.read(str(source), as_version=4)
    where = f"{assignment}/{assignment}.ipynb"
    problems = []
    known = [a for a, _, _ in exercises(source)]
    for answer_id in known:
        count = sum(m.answer == answer_id for m in mutants)
        if count < minimum:
            problems.append(f"{where}: cell {answer_id}: {count} mutant(s) in autograder/mutants/{assignment}.toml; at least {minimum} needed")
        count = sum(a.answer == answer_id for a in alternatives)
        if count < min_alternatives:
            problems.append(f"{where}: cell {answer_id}: {count} alternative(s) in autograder/alternatives/{assignment}.toml; "
                            f"at least {min_alternatives} needed (a correct answer written another way)")
        if requirements and not any(r.answer == answer_id for r in requirements):
            problems.append(f"{where}: cell {answer_id}: no requirements listed in autograder/mutants/{assignment}.toml")
    ids = {r.id: r for r in requirements}
    broken = {b for m in mutants for b in m.breaks}
    for r in requirements:
        if r.answer not in known:
            problems.append(f"autograder/mutants/{assignment}.toml: requirement {r.id!r} names unknown answer cell {r.answer!r}")
        elif r.id not in broken:
            problems.append(f"autograder/mutants/{assignment}.toml: requirement {r.id!r} is broken by no mutant: {r.text}")
    for variant in [*mutants, *alternatives]:
        file = f"autograder/{'mutants' if variant.kind == 'mutant' else 'alternatives'}/{assignment}.toml"
        if variant.answer not in known:
            problems.append(f"{file}: {variant.kind} {variant.name!r} names unknown answer cell {variant.answer!r}")
            continue
        for b in variant.breaks:
            if b not in ids:
                problems.append(f"{file}: mutant {variant.name!r} breaks unknown requirement {b!r}")
            elif ids[b].answer != variant.answer:
                problems.append(f"{file}: mutant {variant.name!r} of {variant.answer} breaks {b!r}, a requirement of {ids[b].answer}")
        if requirements and variant.kind == "mutant" and not variant.breaks:
            problems.append(f"{file}: mutant {variant.name!r} names no requirement it breaks (breaks = [...])")
        try:
            variant.apply(solution)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def check_mutant_coverage(course: Course, assignment: str, mutants: list[Variant], minimum: int = 2) -> list[str]:
    """Every exercise has at least `minimum` mutants, and every mutant applies cleanly."""
    return [p for p in check_coverage(course, assignment, mutants, minimum=minimum, min_alternatives=0)]
