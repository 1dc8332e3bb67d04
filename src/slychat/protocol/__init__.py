"""The wire contract: inbound models, outbound shapes, cursors, rooms and shared types."""
