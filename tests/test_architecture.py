"""The import rules of docs/architecture.md ("Import rules"), read from the source with ast.

- shop/ imports nothing from marketing/ or loyalty/: they plug into the shop through settings
  (adjusters, offers, panels, demo seeders) and signals, never the other way round.
- Between marketing apps and loyalty, one app uses another only through its services
  (writes) and selectors (reads), never its models or internals.

Every import counts, module level or inside a function.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The apps that extend the shop, each a top-level package or a marketing sub-package.
EXTENSIONS = ("marketing", "loyalty")
PUBLIC = ("services", "selectors")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in the file, `from x import y` giving x.y as well as x."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def app_of(module: str) -> str | None:
    """The extension app a dotted module belongs to: "loyalty", "marketing.discounts", or None."""
    parts = module.split(".")
    if parts[0] == "loyalty":
        return "loyalty"
    if parts[0] == "marketing" and len(parts) > 1:
        return f"marketing.{parts[1]}"
    return None


def python_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "migrations" not in p.parts]


def shop_violations(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {module}"
        for path in python_files(root / "shop")
        for line, module in imported_modules(path)
        if module.split(".")[0] in EXTENSIONS
    ]


def extension_violations(root: Path) -> list[str]:
    found = []
    for path in python_files(root / "marketing") + python_files(root / "loyalty"):
        own = app_of(".".join(path.relative_to(root).with_suffix("").parts))
        for line, module in imported_modules(path):
            other = app_of(module)
            if other is None or other == own:
                continue
            rest = module[len(other) + 1 :].split(".")
            if rest[0] not in PUBLIC:
                found.append(f"{path.relative_to(root)}:{line} imports {module} (use {other}.services or .selectors)")
    return found


def test_the_shop_imports_nothing_from_marketing_or_loyalty():
    assert len(python_files(ROOT / "shop")) > 50  # the walk found the code
    assert shop_violations(ROOT) == []


def test_extensions_use_each_other_only_through_services_and_selectors():
    assert extension_violations(ROOT) == []


def test_the_checks_catch_a_forbidden_import(tmp_path):
    """The rules above would see a breach, at module level or inside a function."""
    (tmp_path / "shop" / "orders").mkdir(parents=True)
    (tmp_path / "shop" / "orders" / "views.py").write_text(
        "from shop.cart import pricing\n\ndef f():\n    from loyalty.models import Account\n"
    )
    (tmp_path / "marketing" / "campaigns").mkdir(parents=True)
    (tmp_path / "marketing" / "campaigns" / "tasks.py").write_text(
        "from marketing.discounts import services\nfrom marketing.discounts.models import Promotion\n"
        "import loyalty.selectors\nfrom marketing.campaigns.models import Flow\n"
    )
    (tmp_path / "loyalty").mkdir()
    (tmp_path / "loyalty" / "api.py").write_text("from marketing.discounts.engine import best\n")

    assert shop_violations(tmp_path) == ["shop/orders/views.py:4 imports loyalty.models.Account"]
    assert extension_violations(tmp_path) == [
        "marketing/campaigns/tasks.py:2 imports marketing.discounts.models.Promotion "
        "(use marketing.discounts.services or .selectors)",
        "loyalty/api.py:1 imports marketing.discounts.engine.best (use marketing.discounts.services or .selectors)",
    ]
