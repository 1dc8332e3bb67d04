"""Log lines: structured, saying what they belong to, never holding a secret."""
