"""Offline preview: run a Pulumi Python program under mocks and policy packs over its resources."""
