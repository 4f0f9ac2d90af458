"""The account book and the people routing remembers (CONTRACT §11)."""
