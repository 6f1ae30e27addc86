"""What the ad board adds to the admin home (SHOP_ADMIN_HOME_FIGURES): the moderators' queue."""

from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from marketing.adboard import services
from shop.core.admin_home import Figure


def figures(request) -> list[Figure]:
    if not request.user.has_perm("adboard.moderate_ad"):
        return []
    counts = services.pending_counts()  # one query
    waiting = counts["pending"] + counts["hidden"]
    return [
        Figure(
            label=_("Ads waiting for a decision"),
            value=number_format(waiting, force_grouping=True),
            url=reverse("admin:adboard_ad_changelist") + "?queue=decide",
            note=_("%(new)s new, %(hidden)s hidden after reports, %(reported)s reported while shown")
            % {
                k: number_format(v, force_grouping=True)
                for k, v in (("new", counts["pending"]), ("hidden", counts["hidden"]), ("reported", counts["reported"]))
            },
            attention=waiting > 0,
        )
    ]
