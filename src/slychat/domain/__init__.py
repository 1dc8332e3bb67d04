"""The vocabulary every layer shares: users, chats, messages, ids, errors, limits."""
