"""The reviewer's desk: the same home and the same verbs as the CLI, in a local browser.

`reviewer desk` unlocks the keys once, then serves these pages on 127.0.0.1 only
(reviewer.desk.server, waitress) to the one browser that opened the address it
printed. The pieces: `session` holds what is unlocked and forgets it on lock;
`security` is the front door (Host check, token and cookie, CSRF, headers, a
request class that never spools to disk); `views` are the pages, thin over
reviewer.caselist, reviewer.casefile, reviewer.metadata and reviewer.home;
`app` puts them together. Nothing here writes plaintext anywhere.
"""

from reviewer.desk.app import create_app
from reviewer.desk.session import Desk

__all__ = ["Desk", "create_app"]
