from django.dispatch import Signal

# Sent with product_id, user_id (or None) and session_key when a product page is shown.
product_viewed = Signal()

# Sent after commit with review_id, product_id and user_id when a review is published (at once under
# post-moderation, when a moderator approves or restores it otherwise).
review_published = Signal()
# Sent after commit with review_id, product_id, user_id and status ("rejected" or "removed") when a
# moderator rejects or removes a review.
review_removed = Signal()
