"""The two Socket.IO namespaces clients connect to (the default namespace `/` admits nobody)."""

PRESENCE_NAMESPACE = "/presence"
CHAT_NAMESPACE = "/chat"
