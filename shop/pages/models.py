"""Content pages staff edit in the admin: shipping, returns, payment, contact, FAQ, about."""

import nh3
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# What staff may use in a page's body; anything else (scripts, styles, event handlers) is removed.
ALLOWED_TAGS = {
    "h2", "h3", "h4", "p", "br", "hr", "ul", "ol", "li", "dl", "dt", "dd", "strong", "em", "b", "i",
    "a", "table", "thead", "tbody", "tr", "th", "td", "caption", "blockquote", "details", "summary", "abbr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"scope"}, "td": {"colspan"}}


def clean_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )


class Page(models.Model):
    class Group(models.TextChoices):
        HELP = "help", _("Help (footer and menu)")
        ABOUT = "about", _("About the store (footer)")
        HIDDEN = "hidden", _("Not linked (reached by its address)")

    title = models.CharField(_("title"), max_length=120)
    slug = models.SlugField(_("address"), max_length=80, unique=True, help_text=_("The page is at /pages/<address>/."))
    description = models.CharField(
        _("summary"), max_length=200, blank=True, help_text=_("One sentence for search engines and link previews.")
    )
    body = models.TextField(
        _("text"),
        help_text=_(
            "HTML: headings (h2, h3), paragraphs, lists, links, tables, and details/summary for questions "
            "and answers. Anything else is removed when saved."
        ),
    )
    group = models.CharField(_("linked from"), max_length=10, choices=Group.choices, default=Group.HELP)
    position = models.PositiveSmallIntegerField(_("position"), default=0, help_text=_("Lower comes first."))
    is_published = models.BooleanField(_("published"), default=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["group", "position", "title"]
        verbose_name = _("content page")
        verbose_name_plural = _("content pages")

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.body = clean_html(self.body)
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("pages:page", args=[self.slug])
