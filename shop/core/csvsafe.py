"""CSV cells a spreadsheet will not run as formulas, and their way back.

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`, `-`,
`@` (or a tab or carriage return before one) as a formula: text typed by people
(product names, notes, emails) could run as one when staff open an export. The
usual defence, and the one spreadsheets themselves show, is a leading apostrophe.

`unescape()` undoes `escape()` exactly, so an exported file imports back to the
same text: a cell that really starts with an apostrophe followed by one of those
characters, or by a second apostrophe, gets one more apostrophe on the way out.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"


def escape(value) -> str:
    """The cell text for value: apostrophe-prefixed when a spreadsheet could read it as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in FORMULA_STARTS or (text[:1] == PREFIX and text[1:2] in (*FORMULA_STARTS, PREFIX)):
        return PREFIX + text
    return text


def unescape(text: str) -> str:
    """The text escape() was given: one leading apostrophe dropped before a formula character or an apostrophe."""
    if text[:1] == PREFIX and text[1:2] in (*FORMULA_STARTS, PREFIX):
        return text[1:]
    return text
