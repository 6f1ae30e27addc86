class NoColonLabels:
    """Labels without Django's trailing colon, as everywhere else on the site."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
