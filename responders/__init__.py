"""responders: from a judged mention to drafts (replies, callback tasks, thank-yous,
escalation alerts), and, in publish/, posting approved replies to their platform.

Owns: Draft (drafts.py), the responders, reply templates (templates/), the
platform length limits (limits.py), the publishers (publish/).
May import: listener, rules, Jinja2; publish/ also the platforms' client libraries
(tweepy, praw/prawcore and the requests they run on, aiohttp/yarl). Only publish/
does network I/O; nothing here touches the database.
"""
