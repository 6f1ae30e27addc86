"""What search engines and link previews read: sitemap.xml, robots.txt and the pages' head tags.

The catalog's own tags (canonical URL, Open Graph, JSON-LD) are built with its cached pages
(shop/catalog/seo.py); this package holds what is not about one app.
"""
