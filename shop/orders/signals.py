from django.dispatch import Signal

# All sent after commit, with order_id; listeners (loyalty, analytics, campaigns) must be idempotent.
order_placed = Signal()  # also user_id (None for a guest's order)
order_paid = Signal()  # also user_id (None for a guest's order)
order_cancelled = Signal()  # also reason="cancelled" | "expired"
order_refunded = Signal()  # also amount (Decimal), refund_reference
order_shipped = Signal()
