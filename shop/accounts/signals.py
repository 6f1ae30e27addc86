from django.dispatch import Signal

# Sent after commit with user_id when a customer creates an account.
user_registered = Signal()
