"""How long each client-supplied field may be: one table, read by the inbound schemas (what
a client may send) and by the database columns (what storage holds), so that the same input
gets the same answer on SQLite (which does not enforce lengths) and PostgreSQL (which does).
"""

PRODUCT_ID = 255
PRODUCT_PRICE = 64
NAME = 200  # product, store and customer names
URL = 2048  # product image, store logo, profile picture
CLIENT_MESSAGE_ID = 128
OBJECT_ID = 64  # a chat or message id as a client names it
EMOJI = 64  # one emoji: the longest ZWJ sequences are a dozen code points
REPLY_PREVIEW = 200  # a reply's quote: the first characters of the quoted text
