"""The customer's messages in the store (templates/campaigns/onsite_panel.html)."""

from django import template

from marketing.campaigns import onsite

register = template.Library()


@register.simple_tag(takes_context=True)
def onsite_messages(context) -> list[dict]:
    request = context.get("request")
    return onsite.messages_for(getattr(request, "user", None)) if request is not None else []
