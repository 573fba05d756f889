"""UI: the sidebar panels and menu entries (drawing only)."""
