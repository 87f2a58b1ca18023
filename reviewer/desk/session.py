"""What one desk holds while it runs, and how it forgets it.

The unlocked keys and the Casebook (which holds decrypted answers) live only
here, in memory. `lock` drops every reference to them; the desk then asks for
the passphrase again. The desk locks itself after `idle` seconds without a
request (checked on each request and by the server's watcher thread, so the
keys go even if no request ever comes).
"""

from __future__ import annotations

import gc
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from reviewer.caselist import Casebook
from reviewer.home import Home, Keys
from reviewer.state import State


class Desk:
    """One running desk: its home, its secrets, and the keys while unlocked."""

    def __init__(self, home: Home, keys: Keys | None, *, port: int = 0,
                 idle_seconds: float = 15 * 60,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.home = home
        self.port = port
        self.idle_seconds = idle_seconds
        self.clock = clock
        #: Printed once in the address; exchanged once for the cookie, then void.
        self.token: str | None = secrets.token_urlsafe(32)
        #: The cookie's value: what proves a request comes from the browser that
        #: opened the printed address.
        self.cookie = secrets.token_urlsafe(32)
        self._csrf_key = secrets.token_bytes(32)
        #: One request at a time touches the keys, the Casebook and the home.
        self.mutex = threading.RLock()
        self._keys = keys
        self._casebook: Casebook | None = None
        self._state: State | None = None
        self._seen: tuple[int, int] | None = None
        #: Dossiers uploaded to "Open a dossier" (ciphertext, in memory only), by a
        #: handle of the desk's own; forgotten on lock.
        self.dossiers: dict[str, bytes] = {}
        self.last_request = clock()

    # --- the one-time token and the cookie -------------------------------------

    def take_token(self, offered: str) -> bool:
        """True once, for the printed token; the token is void afterwards."""
        with self.mutex:
            if self.token is None or not hmac.compare_digest(offered.encode(),
                                                             self.token.encode()):
                return False
            self.token = None
            return True

    def cookie_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.cookie.encode())

    @property
    def cookie_name(self) -> str:
        # Cookies are shared by every port of a host: one name per desk's port.
        return f"desk-{self.port}"

    def csrf_token(self) -> str:
        return hmac.new(self._csrf_key, b"desk form", "sha256").hexdigest()

    def csrf_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(),
                                                           self.csrf_token().encode())

    # --- locking ----------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        return self._keys is not None

    @property
    def keys(self) -> Keys:
        if self._keys is None:
            raise RuntimeError("the desk is locked")
        return self._keys

    def unlock(self, passphrase: str) -> None:
        """Open the home's keys (KeyProblem with its sentence on a wrong passphrase)."""
        keys = self.home.unlock(passphrase)
        with self.mutex:
            self._keys = keys
            self.last_request = self.clock()

    def lock(self) -> None:
        """Forget the keys and everything decrypted with them."""
        with self.mutex:
            self._keys = None
            self._casebook = None
            self._state = None
            self._seen = None
            self.dossiers = {}
        gc.collect()

    def touch(self) -> None:
        """A request came: lock first if the desk was idle too long."""
        self.lock_if_idle()
        self.last_request = self.clock()

    def lock_if_idle(self) -> bool:
        with self.mutex:
            if self.unlocked and self.clock() - self.last_request >= self.idle_seconds:
                self.lock()
                return True
        return False

    # --- the home as the CLI may have changed it --------------------------------

    def _stamp(self) -> tuple[int, int]:
        try:
            st = Path(self.home.state_path).stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def _sync(self) -> None:
        """Re-read the state (and refresh the Casebook) when state.json changed."""
        stamp = self._stamp()
        if stamp != self._seen or self._state is None:
            self._state = self.home.load_state()
            if self._casebook is not None:
                self._casebook.refresh()
            self._seen = stamp

    def state(self) -> State:
        with self.mutex:
            self._sync()
            if self._state is None:  # _sync always reads one
                raise RuntimeError("the desk holds no state")
            return self._state

    def casebook(self) -> Casebook:
        with self.mutex:
            self._sync()
            if self._casebook is None:
                # The state just read: a large home's state.json is not parsed twice.
                self._casebook = Casebook(self.home, self.keys, state=self._state)
            return self._casebook

    def changed(self) -> None:
        """After a verb of the desk's own changed the home: read it again."""
        with self.mutex:
            self._seen = None
