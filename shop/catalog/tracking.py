"""What the catalog tells the tracking seam (shop.core.tracking) about the lists it shows."""


def list_id(category: str | None, search: str | None) -> dict:
    """The list a page or an API answer shows: a category's slug, "search" (with its words) or "all"."""
    search = (search or "").strip()[:100]
    if search:
        return {"list": "search", "search": search}
    return {"list": category or "all"}
