"""One process's life: serving, stopping after a drain, worker processes."""
