"""The layers stay apart: domain modules import no framework, driver or broker client."""

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
INFRASTRUCTURE = {
    "nameko",
    "psycopg",
    "psycopg_pool",
    "pika",
    "kombu",
    "eventlet",
    "yoyo",
    "werkzeug",
}
PURE_MODULES = sorted(
    [
        *SERVICES.glob("*/domain.py"),
        *SERVICES.glob("*/validation.py"),
        SERVICES / "common" / "workdays.py",
        SERVICES / "common" / "events.py",
        SERVICES / "common" / "errors.py",
        SERVICES / "common" / "auth.py",
        SERVICES / "common" / "decisions.py",
        SERVICES / "common" / "vocabulary.py",
        *SERVICES.glob("*/events.py"),
        # use cases: on a unit of work, never on a driver or a framework
        *SERVICES.glob("*/handlers.py"),
        SERVICES / "coordination" / "handover.py",
        SERVICES / "coordination" / "bad_ratings.py",  # the 差评 loop's rules and use cases
        SERVICES / "coordination" / "refusal_review.py",  # 否定答复: the review and the report
        SERVICES / "gateway" / "trend_chart.py",  # the monthly page's chart geometry
        SERVICES / "gateway" / "report_page.py",
        SERVICES / "intake" / "channels.py",
    ]
)


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def local_imports(path: Path) -> set[Path]:
    """The modules of services/ that ``path`` imports, ``from services.x import y`` included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("services."):
            base = SERVICES.parent / node.module.replace(".", "/")
            candidates = [base.with_suffix(".py")] + [base / f"{a.name}.py" for a in node.names]
            found.update(candidate for candidate in candidates if candidate.exists())
    return found


@pytest.mark.parametrize("module", PURE_MODULES, ids=lambda p: str(p.relative_to(SERVICES)))
def test_pure_module_imports_no_infrastructure(module):
    seen, todo = set(), [module]
    while todo:  # follow the module's own imports inside services/ too
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        leaked = imported_roots(current) & INFRASTRUCTURE
        assert not leaked, f"{current.relative_to(SERVICES)} imports {sorted(leaked)}"
        todo.extend(local_imports(current))


def test_every_service_has_the_same_shape():
    for service in ("intake", "coordination", "accountability", "reporting"):
        folder = SERVICES / service
        for name in ("service.py", "store.py", "migrations"):
            assert (folder / name).exists(), f"services/{service}/{name} is missing"


SERVICE_PACKAGES = ("intake", "coordination", "accountability", "reporting", "gateway")


def imported_services_modules(path: Path) -> set[str]:
    """Every ``services.<package>`` a module imports, at any depth of its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.update(name.split(".")[1] for name in names if name.startswith("services."))
    return found


@pytest.mark.parametrize("package", [*SERVICE_PACKAGES, "common"])
def test_services_meet_only_through_events_and_rpc(package):
    """A service imports common and itself, never another service; common imports no service.
    State crosses services as events and RPC (DESIGN §3)."""
    allowed = {"common"} if package == "common" else {"common", package}
    crossing = {
        f"{path.relative_to(SERVICES)} imports services.{imported}"
        for path in (SERVICES / package).rglob("*.py")
        for imported in imported_services_modules(path) - allowed
    }
    assert not crossing, sorted(crossing)


def test_every_service_has_the_layers_of_the_service_layer():
    for service in ("intake", "coordination", "accountability", "reporting"):
        folder = SERVICES / service
        for name in ("service.py", "handlers.py", "domain.py", "store.py", "migrations"):
            assert (folder / name).exists(), f"services/{service}/{name} is missing"
    # the services that announce decisions describe each event in events.py (reporting only reads)
    for service in ("intake", "coordination", "accountability"):
        assert (SERVICES / service / "events.py").exists(), (
            f"services/{service}/events.py is missing"
        )
