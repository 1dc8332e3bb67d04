"""Media files: what a file is (from its bytes), images made safe, and where files live."""
