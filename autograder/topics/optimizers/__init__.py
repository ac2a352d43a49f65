"""Topic `optimizers`: see topic.toml and autograder/topics/__init__.py."""
