"""The store's URLs plus a stand-in for the assistant's messages API, for the chat's browser test:
it answers as the API's contract says (POST {message, conversation} → {conversation, reply}),
through the fake dialogue of tests/marketing/assistant/fakes.py, with the session's CSRF check."""

import json
import time

from django.http import JsonResponse
from django.urls import include, path

from marketing.assistant.models import Conversation
from marketing.assistant.views import owned
from tests.marketing.assistant import fakes


def messages(request):
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    data = json.loads(request.body or b"{}")
    text = (data.get("message") or "").strip()
    if not text:
        return JsonResponse({"message": ["Write a message."]}, status=400)
    if text == "too fast":
        return JsonResponse({"detail": "Request was throttled."}, status=429)
    conversation = owned(request, data["conversation"]) if data.get("conversation") else None
    if conversation is None:
        if not request.session.session_key:
            request.session.save()
        conversation = Conversation.objects.create(session_key=request.session.session_key, channel="web")
    time.sleep(0.3)  # long enough to see the typing indicator
    reply = fakes.respond(conversation, text, user=None, request=request)
    body = {"text": reply.text, "intent": reply.intent, "handed_over": reply.handed_over, **fakes.parts(reply)}
    return JsonResponse({"conversation": str(conversation.public_id), "reply": body})


urlpatterns = [
    path("api/v1/assistant/messages/", messages),
    path("", include("config.urls")),
]
