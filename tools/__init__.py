"""Operator tools that run against a deployed stack (not part of the Lambda archive)."""
