"""Settings: read once from the environment, checked at start, shown with secrets masked."""
