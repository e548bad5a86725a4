"""The state store's repositories, one per concern, over one database layer."""
