"""publish: one publisher per platform posts approved replies.

A publisher module (responders/publish/x.py, ...) exposes
`build(settings, ctx) -> Publisher`, taking the settings of a source of its
platform (which holds the posting credentials), and is registered by platform name
in earful/sources.py.
"""
