"""cotbench tests."""
