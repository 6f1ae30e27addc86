"""Writes that change what shelves show: rules and shelf settings forget the cached shelves."""
