"""The approval console: an aiohttp.web application where support staff work the
queue and marketing follows praise.

Owns: routes and their role checks (security.py), accounts and sessions (auth.py,
passwords.py, ratelimit.py), the HTML pages (pages.py, templates/, post text laid
out fast however long its words: posttext.py), the JSON API
(api.py) and the static JS/CSS (static/, Chart.js vendored there), the sources'
health shown in the header and on the stats page.
May import: storage (the Store and its queries), responders (limits, templating and
context, to check and preview an edit the way the publisher will send it),
rules.verdict, earful.config, earful.display, earful.pipeline (opening the store) and
earful.source_status (each source's health, as `earful sources` shows it).
Every decision goes through the Store's guarded, audit-logged transitions.
"""

from earful.console.app import ConsoleService, build_app

__all__ = ["ConsoleService", "build_app"]
