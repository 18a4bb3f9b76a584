"""listener: the sources. One module per platform turns that platform's posts into
Mention objects and keeps a cursor of where it got to.

Owns: Mention/Author/Brand (mention.py), the Source protocol and its errors
(base.py), and one module per source type.
May import: the standard library, pydantic (settings), the platform client
libraries and what they run on (tweepy, praw/prawcore, requests), aiohttp with yarl
and multidict, and feedparser. Never rules, responders, storage or earful.
"""
