from django.dispatch import Signal

# Sent after commit with cart_id and user_id (or None) whenever a cart's lines change.
cart_changed = Signal()

# Sent inside the login merge's transaction, before the guest cart is deleted, with source (the guest's
# cart), target (the customer's) and user: apps that keep things on carts (a discount code) move them
# over. A receiver returns a list of notes for the customer (why something was not kept), or None.
cart_merged = Signal()
