"""The command line: slychat serve | migrate | token | revoke | config | apikey."""
