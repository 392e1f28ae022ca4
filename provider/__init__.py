"""The multi-language plugin of the components (`PulumiPlugin.yaml`, `__main__.py`) and its
schema snapshot (`schema.json`, written by `python -m provider.schema`)."""
