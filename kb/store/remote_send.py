"""How the remote store sends a request and reads the answer: SPARQLWrapper describes it, the connection pool
(`remote_http`) or `requests` moves it, and the answer is checked (HTTP errors, Virtuoso's cut and partial
answers) before anyone reads it.

A request can be started and finished later (`_start`, `_finish`), so that two are in flight at once: the
query and the read of the KB's state that validates it (see `RemoteStore._run`).

See kb/store/remote.py for the design; this module holds the sending half of `RemoteStore`.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass

import requests
from requests.auth import HTTPBasicAuth
from SPARQLWrapper import POST, POSTDIRECTLY, SPARQLWrapper

from . import remote_http
from .base import QueryTimeout, StoreError, StoreUnavailable
from .remote_protocol import GRACE, ResultCut


@dataclass
class Pending:
    """A request on its way: on a pooled connection (`exchange`), or to be sent by `requests` when finished."""

    url: str
    body: bytes
    headers: dict[str, str]
    where: str
    limit: float
    deadline: float
    timeout: float | None
    sent: float = 0.0  # time.monotonic() when it was sent (or made, for one sent when finished)
    exchange: remote_http.Exchange | None = None

    def abandon(self) -> None:
        if self.exchange is not None:
            self.exchange.abandon()


class RemoteSending:
    """The sending half of RemoteStore (a mixin: it uses the store's URLs, settings and connections)."""

    def _wrapper(self, text: str, *, update: bool, form: str = "SELECT") -> SPARQLWrapper:
        sw = SPARQLWrapper(self.url, updateEndpoint=self.update_url, agent="thb-kb")
        sw.setMethod(POST)
        sw.setOnlyConneg(True)  # no Virtuoso-only `format`/`output` parameters; Accept decides
        if update:
            sw.setRequestMethod(POSTDIRECTLY)
        # What setQuery does, without its guess of the query type (regular expressions over the whole text,
        # a tenth of a request's time on the bench mix): we know the form, and an update always goes to the
        # update URL whatever its first keyword.
        sw.queryString = text
        sw.queryType = "INSERT" if update else form
        return sw

    def _request(self, sw: SPARQLWrapper, accept: str | None,
                 params: list[tuple[str, str]] = ()) -> tuple[str, bytes, dict[str, str]]:
        """URL, body and headers of the request SPARQLWrapper describes, with the protocol's extra parameters."""
        req = sw._createRequest()  # a urllib Request: URL, body, headers (SPARQLWrapper 2.x)
        headers = dict(req.header_items())
        if accept:
            headers["Accept"] = accept
        url = req.full_url
        body = req.data
        if params:
            extra = urllib.parse.urlencode(list(params))
            if headers.get("Content-type", "").startswith("application/x-www-form-urlencoded"):
                body = body + b"&" + extra.encode("ascii")
            else:
                url += ("&" if "?" in url else "?") + extra
        return url, body, headers

    def _start(self, sw: SPARQLWrapper, accept: str | None, timeout: float | None,
               params: list[tuple[str, str]] = ()) -> Pending:
        """Send the request now when it goes through the pool (queries); else when it is finished."""
        return self._start_request(*self._request(sw, accept, params), update=sw.isSparqlUpdateRequest(),
                                   timeout=timeout)

    def _start_request(self, url: str, body: bytes, headers: dict[str, str], *, update: bool,
                       timeout: float | None) -> Pending:
        # The store is told the query's own time limit (Virtuoso: `timeout`); we wait a little longer for
        # its answer, so that a query stopped by the store is told apart from a store that does not answer.
        limit = self.timeout if timeout is None else min(self.timeout, timeout + GRACE)
        now = time.monotonic()
        pending = Pending(url, body, headers, url.split("?")[0], limit, now + limit, timeout, now)
        pool = self._pool
        if pool is not None and pending.where == self.url and not update:
            try:
                pending.exchange = pool.start(url[len(self._origin):] or "/", body, headers, min(limit, 5.0), limit)
            except remote_http.Timeout:
                raise self._too_slow(pending.where, limit, timeout) from None
            except remote_http.Unreachable as exc:
                raise StoreUnavailable(f"the SPARQL store at {pending.where} is not reachable ({exc})") from None
        return pending

    def _finish(self, pending: Pending):
        """The checked answer of a started request (status, headers, content)."""
        if pending.exchange is not None:
            try:
                resp = pending.exchange.reply(pending.deadline)
            except remote_http.Timeout:
                raise self._too_slow(pending.where, pending.limit, pending.timeout) from None
            except remote_http.Unreachable as exc:
                raise StoreUnavailable(f"the SPARQL store at {pending.where} is not reachable ({exc})") from None
            if resp.status_code != 401 or not self._credentials:
                return self._checked(resp, pending)
            self._pool = None  # the store asks for authentication: requests (digest, basic) from now on
        return self._checked(self._post(pending), pending)

    def _send(self, sw: SPARQLWrapper, accept: str | None, timeout: float | None,
              params: list[tuple[str, str]] = ()):
        """Send the request SPARQLWrapper built, with a hard deadline; the checked answer."""
        return self._finish(self._start(sw, accept, timeout, params))

    def _post(self, p: Pending) -> requests.Response:
        """POST through the pooled `requests` session (authentication, proxies), read with a deadline."""
        timeouts = (min(p.limit, 5.0), p.limit)
        try:
            resp = self._session.post(p.url, data=p.body, headers=p.headers, auth=self._auth, timeout=timeouts,
                                      stream=True)
            if resp.status_code == 401 and self._credentials and "basic" in resp.headers.get(
                    "WWW-Authenticate", "").lower() and not isinstance(self._auth, HTTPBasicAuth):
                resp.close()
                self._auth = HTTPBasicAuth(*self._credentials)
                resp = self._session.post(p.url, data=p.body, headers=p.headers, auth=self._auth, timeout=timeouts,
                                          stream=True)
            chunks = []
            for chunk in resp.iter_content(65536):
                chunks.append(chunk)
                if time.monotonic() > p.deadline:
                    resp.close()
                    raise self._too_slow(p.where, p.limit, p.timeout)
            resp._content = b"".join(chunks)
        except requests.exceptions.Timeout:
            raise self._too_slow(p.where, p.limit, p.timeout) from None
        except requests.exceptions.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "connection failed or was cut"
            raise StoreUnavailable(f"the SPARQL store at {p.where} is not reachable ({reason})") from None
        except requests.exceptions.RequestException as exc:
            raise StoreUnavailable(f"the SPARQL store at {p.where} failed: {type(exc).__name__}") from None
        return resp

    def _checked(self, resp, p: Pending):
        """The answer, or the error it means (HTTP errors, Virtuoso's cut and partial answers)."""
        if not self._virtuoso and not self.generic and resp.headers.get("Server", "").startswith("Virtuoso"):
            self._virtuoso = True
        if resp.status_code >= 400:
            self._raise_for(resp, p.where)
        cut = resp.headers.get("X-SPARQL-MaxRows")
        if cut and cut.strip().isdigit():  # Virtuoso says so when it cut a SELECT result: never silent
            raise ResultCut(int(cut), p.where)
        state = resp.headers.get("X-SQL-State", "")
        if state == "S1TAT":  # Virtuoso's "anytime" answer: a partial result after its time limit
            raise QueryTimeout(f"the query ran past its time limit ({p.timeout or p.limit:g} s) and the store "
                               "stopped it")
        return resp

    @staticmethod
    def _too_slow(where: str, limit: float, timeout: float | None) -> StoreError:
        if timeout is not None and limit >= timeout:
            return QueryTimeout(f"the query ran past its time limit ({timeout:g} s) on the store at {where}")
        return StoreUnavailable(f"the SPARQL store at {where} did not answer within {limit:g} s")

    @staticmethod
    def _raise_for(resp, where: str) -> None:
        text = resp.content[:600].decode("utf-8", "replace").strip()
        if resp.status_code == 400:
            raise SyntaxError(f"the store rejected the query: {text}")
        if resp.status_code in (401, 403):
            raise StoreError(f"the SPARQL store at {where} refused the credentials (HTTP {resp.status_code}); "
                             "check KB_SPARQL_USER / KB_SPARQL_PASSWORD and the user's SPARQL_UPDATE grant")
        if resp.status_code in (502, 503, 504):
            raise StoreUnavailable(f"the SPARQL store at {where} is unavailable (HTTP {resp.status_code})")
        # SR203 "Async statement killed by SQLCancel": Virtuoso stopping a query at its time limit (seen
        # now and then instead of S1T00 under load)
        if "S1T00" in text or "timed out" in text.lower() or "S1TAT" in text or "SR203" in text:
            raise QueryTimeout(f"the query ran past its time limit on the store: {text[:200]}")
        raise StoreError(f"the SPARQL store at {where} answered HTTP {resp.status_code}: {text}")
