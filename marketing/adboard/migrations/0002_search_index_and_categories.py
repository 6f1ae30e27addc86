"""PostgreSQL: trigram indexes on the ads' search columns (search.py's LIKE '% stem%' uses them;
the pg_trgm extension comes with the catalog's search index). Then the board's starting tree
of categories and the details each asks for; staff change them in the admin."""

from django.db import migrations

PG_FORWARD = [
    "CREATE INDEX adboard_ad_search_body ON adboard_ad USING gin (search_body gin_trgm_ops)",
    "CREATE INDEX adboard_ad_search_title ON adboard_ad USING gin (search_title gin_trgm_ops)",
]
PG_BACKWARD = ["DROP INDEX IF EXISTS adboard_ad_search_body", "DROP INDEX IF EXISTS adboard_ad_search_title"]

# (name, slug, [(name, slug, [fields])]); a field: (key, label, kind, unit, choices, min, max, required)
TREE = [
    ("Home", "home", [
        ("Furniture", "furniture", [("material", "Material", "choice", "", ["wood", "metal", "glass", "fabric", "leather"], None, None, False)]),
        ("Appliances", "appliances", [("energy", "Energy class", "choice", "", ["A", "B", "C", "D", "E", "F"], None, None, False)]),
        ("Garden", "garden", []),
    ]),
    ("Vehicles", "vehicles", [
        ("Cars", "cars", [
            ("year", "Year", "number", "", [], 1950, 2030, True),
            ("mileage", "Mileage", "number", "km", [], 0, 2000000, True),
            ("fuel", "Fuel", "choice", "", ["petrol", "diesel", "hybrid", "electric"], None, None, True),
            ("gearbox", "Gearbox", "choice", "", ["manual", "automatic"], None, None, False),
        ]),
        ("Bicycles", "bicycles", [
            ("frame", "Frame size", "choice", "", ["XS", "S", "M", "L", "XL"], None, None, False),
            ("bike_type", "Type", "choice", "", ["road", "mountain", "city", "electric", "kids"], None, None, False),
        ]),
    ]),
    ("Property", "property", [
        ("Flats to rent", "flats-to-rent", [
            ("rooms", "Rooms", "number", "", [], 1, 20, True),
            ("area", "Area", "number", "m²", [], 5, 1000, True),
            ("furnished", "Furnished", "yes_no", "", [], None, None, False),
        ]),
    ]),
    ("Electronics", "electronics", [
        ("Phones", "phones", [("storage", "Storage", "choice", "", ["64 GB", "128 GB", "256 GB", "512 GB"], None, None, False)]),
        ("Computers", "computers", [("ram", "Memory", "number", "GB", [], 1, 256, False)]),
        ("Audio and TV", "audio-tv", []),
    ]),
    ("Fashion", "fashion", [
        ("Clothing", "clothing", [("size", "Size", "choice", "", ["XS", "S", "M", "L", "XL", "XXL"], None, None, False)]),
        ("Shoes", "shoes", [("eu_size", "EU size", "number", "", [], 16, 50, False)]),
    ]),
    ("Hobbies", "hobbies", [
        ("Sports", "sports", []),
        ("Books and music", "books-music", []),
        ("Toys and games", "toys-games", []),
    ]),
]


def _run(statements):
    def run(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def create_tree(apps, schema_editor):
    AdCategory = apps.get_model("adboard", "AdCategory")
    AdField = apps.get_model("adboard", "AdField")
    if AdCategory.objects.exists():
        return
    for i, (name, slug, children) in enumerate(TREE):
        root = AdCategory.objects.create(name=name, slug=slug, position=i)
        for j, (child, child_slug, fields) in enumerate(children):
            leaf = AdCategory.objects.create(name=child, slug=child_slug, parent=root, position=j)
            for k, (key, label, kind, unit, choices, low, high, required) in enumerate(fields):
                AdField.objects.create(
                    category=leaf, key=key, label=label, kind=kind, unit=unit, choices=choices,
                    min_value=low, max_value=high, required=required, position=k,
                )


class Migration(migrations.Migration):
    dependencies = [("adboard", "0001_initial"), ("catalog", "0004_search_index")]

    operations = [
        migrations.RunPython(_run({"postgresql": PG_FORWARD}), _run({"postgresql": PG_BACKWARD})),
        migrations.RunPython(create_tree, migrations.RunPython.noop),
    ]
