from django.dispatch import Signal

# Sent after commit with cart_id and user_id (or None) whenever a cart's lines change.
cart_changed = Signal()
