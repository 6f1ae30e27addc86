"""Campaigns' part of a customer's data (shop/accounts/privacy.py, docs/privacy.md): the
marketing messages they were sent, with what they opened and clicked, and their browsers
registered for notifications."""

from django.utils.translation import gettext_lazy

from marketing.campaigns import services
from marketing.campaigns.models import Message, PushSubscription


class CampaignData:
    key = "marketing_messages"
    label = gettext_lazy("Marketing messages")
    erases = gettext_lazy("The browsers registered for notifications, and the personal codes in messages.")
    keeps = gettext_lazy("Which messages went to the emptied account, as counts in the campaigns' results.")

    def export(self, user) -> dict:
        messages = (
            Message.objects.filter(user=user).select_related("campaign", "step__flow").order_by("created_at", "id")
        )
        return {
            "messages": [
                {
                    "of": m.campaign.name if m.campaign_id else m.step.flow.name,
                    "channel": m.channel,
                    "status": m.status,
                    "sent_at": m.sent_at,
                    "opened_at": m.opened_at,
                    "clicked_at": m.clicked_at,
                    "unsubscribed_at": m.unsubscribed_at,
                    "code": m.code,
                }
                for m in messages.iterator(chunk_size=2000)
            ],
            "notification_browsers": list(
                PushSubscription.objects.filter(user=user).values("user_agent", "created_at", "gone_at")
            ),
        }

    def erase(self, user) -> None:
        services.customer_forget(user=user)
