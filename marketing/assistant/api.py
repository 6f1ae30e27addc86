"""The assistant's API (docs/architecture.md, "The API"): send a message, read a conversation.

Routed from config/api_urls.py. A conversation belongs to the customer (token or session) or, for
a guest, to the session that started it: anyone else's id answers 404, as if it did not exist.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from marketing.assistant import dialogue, selectors, services
from marketing.assistant.contract import Intent
from marketing.assistant.models import Channel, Turn
from shop.cart.api import CART_TOKEN, CartAPIView
from shop.core.ratelimit import ScopedRateThrottle
from shop.core.schema import error_response


class MessageInput(serializers.Serializer):
    message = serializers.CharField(
        min_length=1,
        max_length=500,
        error_messages={"blank": _("Write a message."), "max_length": _("Keep a message under 500 characters.")},
        help_text="What the shopper wrote (1 to 500 characters).",
    )
    conversation = serializers.UUIDField(
        required=False, allow_null=True, help_text="The conversation to continue; none starts a new one."
    )


class ProductCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="The product's page.")
    price = serializers.CharField(help_text='Formatted in the active language ("$19.99").')
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    in_stock = serializers.BooleanField()
    stock_note = serializers.CharField(help_text='"In stock", "Only 2 left", "Sold out".')
    image = serializers.CharField(allow_blank=True)
    was = serializers.CharField(allow_blank=True, help_text="The former price, struck through; empty if none.")
    offer = serializers.CharField(allow_blank=True, help_text="The automatic promotion behind `price`; empty if none.")


class ActionSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["link", "send"], help_text="link: open `url`; send: send `text`.")
    label = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)


class CartSummarySerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text="Units in the cart now.")
    label = serializers.CharField(help_text='As the storefront\'s header says it: "(2 items)".')


class ReplySerializer(serializers.Serializer):
    text = serializers.CharField()
    intent = serializers.ChoiceField(choices=list(Intent.ALL), help_text="What the message was understood as.")
    products = ProductCardSerializer(many=True)
    actions = ActionSerializer(many=True)
    quick_replies = serializers.ListField(child=serializers.CharField(), help_text="Suggested next messages.")
    handed_over = serializers.BooleanField(help_text="The conversation now waits for a member of staff.")
    cart = CartSummarySerializer(allow_null=True, help_text="The cart, when this reply changed it; null otherwise.")


class MessageOutput(serializers.Serializer):
    conversation = serializers.UUIDField(help_text="Send it with the next message to continue.")
    reply = ReplySerializer()


class TurnSerializer(serializers.ModelSerializer):
    class Meta:
        model = Turn
        fields = ["role", "text", "intent", "parts", "created_at"]


class ConversationOutput(serializers.Serializer):
    conversation = serializers.UUIDField()
    handed_over = serializers.BooleanField()
    turns = TurnSerializer(many=True)


class MessagesView(CartAPIView):
    # CartAPIView: anyone may talk, and a guest's session cookie is checked against CSRF (the
    # assistant fills their cart).
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "assistant"

    @extend_schema(
        parameters=[CART_TOKEN],
        request=MessageInput,
        responses={
            200: MessageOutput,
            400: error_response("No message, one over 500 characters, or a malformed conversation id."),
            404: error_response("No such conversation of yours."),
            429: error_response("Too many messages from this client: wait."),
        },
    )
    def post(self, request):
        """Send the shopper's message; answers with the assistant's reply and its parts (products, actions)."""
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_get_or_create(
            request=request, public_id=data.validated_data.get("conversation"), channel=Channel.API
        )
        reply = dialogue.respond(conversation, data.validated_data["message"], user=request.user, request=request)
        body = {"conversation": conversation.public_id, "reply": reply}
        return Response(MessageOutput(body).data)


class ConversationView(CartAPIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "assistant"

    @extend_schema(responses={200: ConversationOutput, 404: error_response("No such conversation of yours.")})
    def get(self, request, public_id):
        """A conversation of yours, every message in order."""
        conversation = services.conversation_for_request(request, public_id=public_id)
        body = {
            "conversation": conversation.public_id,
            "handed_over": conversation.handed_over,
            "turns": selectors.conversation_turns(conversation=conversation),
        }
        return Response(ConversationOutput(body).data)
