from django.dispatch import Signal

# Sent with product_id, user_id (or None) and session_key when a product page is shown.
product_viewed = Signal()
