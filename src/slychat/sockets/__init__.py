"""The Socket.IO namespaces, their token admission, and the presenter that emits events."""
