"""The product search index (shop/catalog/search.py), each database with its own.

PostgreSQL: the pg_trgm extension and a GIN index on the weighted text-search document
(name A, brand B, description D, the `simple` configuration); search.py queries the very
same expression, so the planner uses the index. SQLite: an FTS5 table over the same
columns (external content: the product table), kept up to date by triggers, filled here
from the products already there.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

PG_DOCUMENT = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(brand, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'D')"
)

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE catalog_product_fts USING fts5(
        name, brand, description, content='catalog_product', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0'
    )""",
    """CREATE TRIGGER catalog_product_fts_insert AFTER INSERT ON catalog_product BEGIN
        INSERT INTO catalog_product_fts(rowid, name, brand, description)
        VALUES (new.id, new.name, new.brand, new.description);
    END""",
    """CREATE TRIGGER catalog_product_fts_delete AFTER DELETE ON catalog_product BEGIN
        INSERT INTO catalog_product_fts(catalog_product_fts, rowid, name, brand, description)
        VALUES ('delete', old.id, old.name, old.brand, old.description);
    END""",
    """CREATE TRIGGER catalog_product_fts_update AFTER UPDATE OF name, brand, description ON catalog_product BEGIN
        INSERT INTO catalog_product_fts(catalog_product_fts, rowid, name, brand, description)
        VALUES ('delete', old.id, old.name, old.brand, old.description);
        INSERT INTO catalog_product_fts(rowid, name, brand, description)
        VALUES (new.id, new.name, new.brand, new.description);
    END""",
    "INSERT INTO catalog_product_fts(catalog_product_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS catalog_product_fts_update",
    "DROP TRIGGER IF EXISTS catalog_product_fts_delete",
    "DROP TRIGGER IF EXISTS catalog_product_fts_insert",
    "DROP TABLE IF EXISTS catalog_product_fts",
]
PG_FORWARD = [f"CREATE INDEX catalog_product_search ON catalog_product USING gin (({PG_DOCUMENT}))"]
PG_BACKWARD = ["DROP INDEX IF EXISTS catalog_product_search"]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_product_brand")]

    operations = [
        TrigramExtension(),  # does nothing on other databases
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
