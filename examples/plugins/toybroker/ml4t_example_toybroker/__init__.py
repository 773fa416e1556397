"""Example broker plugin for ToyBroker, a made-up REST API, and a local stub of that API.

Nothing is imported here: the entry point (`plugin.py`) must stay cheap to load.
"""
