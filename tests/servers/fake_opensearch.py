#!/usr/bin/python3
"""A fake OpenSearch for docmill's tests (Python 3 standard library only).

    fake_opensearch.py [--port N] [--kuromoji] [--verbose]

Listens on 127.0.0.1 only (never any other address); with port 0 (the
default) the kernel picks a free port, printed on stdout as the first line.
Exits when its parent process goes away, so a crashed test leaves no server
behind.

It answers like OpenSearch 2.x for what docmill uses, keeps documents in
memory, and is STRICT about the _bulk wire format: a violation is answered
the way OpenSearch answers it (400; 406 for a wrong Content-Type; 413 for a
body over 10 MiB, as AWS OpenSearch Service does) and is also recorded in
"violations" so a test can assert there were none:

    HEAD/PUT/GET/DELETE /INDEX          exists? / create (409-like 400
                                        resource_already_exists_exception) /
                                        mapping / delete
    POST /_bulk, POST /INDEX/_bulk      index, create, delete (update refused)
    GET  /INDEX/_doc/ID[?_source_includes=a,b]
    POST /INDEX/_update/ID              {"doc": {...}} partial update
    GET  /_cat/plugins?format=json, GET /_nodes/plugins, GET /
    GET|POST /INDEX/_search             match_all, or {"query":{"match":{
                                        "pages.text": "words"}}} as substring,
                                        or a bool query: a term filter on
                                        sha256, must_not ids (and members > 0);
                                        "size"
    POST /INDEX/_delete_by_query        {"query":{"terms":{"parent":[...]}}}
    POST /INDEX/_refresh, PUT /INDEX/_mapping (fields added, types kept)

Control endpoints for tests (never authenticated, never failed):

    POST /_fake/reset                            forget everything
    POST /_fake/fail?status=429&count=N[&scope=item|request][&type=T]
         the next N bulk items (scope=item, the default) or requests
         (scope=request) fail with that status
    POST /_fake/item_error?id=X&status=400&type=mapper_parsing_exception
         [&reason=R][&count=N]       every write of document X fails so
                                     (N times, or until reset)
    POST /_fake/down?seconds=S[&mode=503|close|garbage]
         for S seconds every request gets 503 (or its connection closed
         with no answer, or a 200 whose body is an HTML proxy page)
    POST /_fake/hang?count=N&seconds=S
         the next N _bulk requests get no answer for S seconds (then 503)
    POST /_fake/plugins?kuromoji=1|0
    POST /_fake/head_404?count=N      HEAD /INDEX says 404 N times although
                                     the index exists (another worker's race)
    POST /_fake/auth?user=U&password=P   require basic auth (empty: stop)
    GET  /_fake/docs[?index=I][&sources=0]
         {"indices": {I: {"mappings", "docs": {id: source|null}}},
          "counters", "violations", "authorization", "bulk_sizes"}
"""
import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BULK_BODY = 10 * 1024 * 1024
BUILTIN_ANALYZERS = {"standard", "simple", "whitespace", "stop", "keyword", "pattern",
                     "fingerprint", "cjk", "english"}
ITEM_ERROR_TYPES = {429: "es_rejected_execution_exception", 500: "internal_server_error",
                    502: "bad_gateway", 503: "unavailable_shards_exception",
                    504: "timeout_exception"}


def error_body(status, etype, reason, **extra):
    err = {"type": etype, "reason": reason, **extra}
    return {"error": {"root_cause": [dict(err)], **err}, "status": status}


class State:
    def __init__(self, kuromoji):
        self.lock = threading.Lock()
        self.kuromoji_at_start = kuromoji
        self.reset()

    def reset(self):
        self.indices = {}       # name -> {"mappings", "docs": {id: source}, "versions"}
        self.counters = {"requests": 0, "bulk_requests": 0, "bulk_items": 0,
                         "bulk_bytes_max": 0, "head_index": 0, "put_index": 0,
                         "get_doc": 0, "update": 0, "plugins": 0, "rejected": 0,
                         "delete_by_query": 0, "refresh": 0, "put_mapping": 0}
        self.violations = []
        self.authorization = []
        self.bulk_sizes = []
        self.fail = {"item": None, "request": None}  # {"status", "count", "type"}
        self.item_errors = {}   # id -> {"status", "type", "reason", "count"}
        self.down_until = 0.0
        self.down_mode = "503"
        self.kuromoji = self.kuromoji_at_start
        self.head_404 = 0
        self.hang = {"count": 0, "seconds": 0.0}
        self.auth = None        # expected "Basic ..." header value


STATE = None
VERBOSE = False


def check_value(spec, value, path):
    """A light version of OpenSearch's mapping check: the type of each
    mapped field. Returns a reason or None."""
    if value is None:
        return None
    t = spec.get("type", "object")
    if t in ("long", "integer"):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"failed to parse field [{path}] of type [{t}]"
    elif t == "date":
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            return f"failed to parse field [{path}] of type [date]"
    elif t in ("keyword", "text"):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return f"failed to parse field [{path}] of type [{t}]"
    elif t in ("nested", "object"):
        items = value if isinstance(value, list) else [value]
        for it in items:
            if not isinstance(it, dict):
                return f"object mapping for [{path}] tried to parse a non-object value"
            for k, v in it.items():
                sub = spec.get("properties", {}).get(k)
                if sub is not None:
                    why = check_value(sub, v, f"{path}.{k}")
                    if why:
                        return why
    return None


BUILTIN_TOKENIZERS = {"standard", "whitespace", "keyword", "ngram", "edge_ngram", "letter"}
BUILTIN_FILTERS = {"lowercase", "cjk_width", "cjk_bigram", "asciifolding", "stop"}


def check_analysis(analysis):
    """OpenSearch's checks of custom analysis settings that a mapping can
    trip: an ngram tokenizer's gram spread (index.max_ngram_diff, 1 by
    default), and custom analyzers naming tokenizers and filters that
    exist. Returns a reason or None."""
    tokenizers = analysis.get("tokenizer", {})
    for name, t in tokenizers.items():
        if t.get("type") in ("ngram", "edge_ngram"):
            lo, hi = t.get("min_gram", 1), t.get("max_gram", 2)
            if t.get("type") == "ngram" and hi - lo > 1:
                return ("The difference between max_gram and min_gram in NGram Tokenizer must "
                        "be less than or equal to: [1] but was [%d]" % (hi - lo))
    for name, a in analysis.get("analyzer", {}).items():
        if a.get("type") != "custom":
            continue
        tok = a.get("tokenizer")
        if tok not in tokenizers and tok not in BUILTIN_TOKENIZERS:
            return "failed to find tokenizer under name [%s]" % tok
        for f in a.get("filter", []):
            if f not in BUILTIN_FILTERS and f not in analysis.get("filter", {}):
                return "failed to find filter under name [%s]" % f
    return None


def walk_analyzers(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("analyzer", "search_analyzer") and isinstance(v, str):
                out.append(v)
            else:
                walk_analyzers(v, out)
    elif isinstance(node, list):
        for v in node:
            walk_analyzers(v, out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-opensearch"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("fake_opensearch: " + (fmt % args) + "\n")

    # --- plumbing -------------------------------------------------------
    def send(self, status, obj=None, raw=None, ctype="application/json; charset=UTF-8"):
        data = raw if raw is not None else (
            b"" if obj is None else json.dumps(obj, ensure_ascii=False).encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def violation(self, status, etype, reason):
        STATE.violations.append(f"{self.command} {self.path.split('?')[0]}: {reason}")
        if status == 406:  # OpenSearch's shape for an unsupported content type
            return self.send(406, {"error": reason, "status": 406})
        return self.send(status, error_body(status, etype, reason))

    def read_body(self):
        if self.headers.get("Transfer-Encoding"):
            return None
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def route(self):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [unquote(p) for p in url.path.split("/") if p]
        body = self.read_body()
        if parts and parts[0] == "_fake":
            with STATE.lock:
                return self.control(parts[1:], q)
        with STATE.lock:
            STATE.counters["requests"] += 1
            if body is None:
                return self.violation(400, "illegal_argument_exception",
                                      "chunked request bodies are not expected")
            auth = self.headers.get("Authorization")
            if auth:
                STATE.authorization.append(auth)
            if time.monotonic() < STATE.down_until:
                STATE.counters["rejected"] += 1
                if STATE.down_mode == "close":
                    self.close_connection = True
                    return None
                if STATE.down_mode == "garbage":
                    return self.send(200, raw=b"<html><body>502 proxy error</body></html>",
                                     ctype="text/html")
                return self.send(503, error_body(503, "cluster_block_exception",
                                                 "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]"))
            if STATE.auth and auth != STATE.auth:
                STATE.counters["rejected"] += 1
                return self.send(401, raw=b"Unauthorized", ctype="text/plain; charset=UTF-8")
            f = STATE.fail["request"]
            if f and f["count"] > 0:
                f["count"] -= 1
                STATE.counters["rejected"] += 1
                st = f["status"]
                return self.send(st, error_body(st, f["type"] or ITEM_ERROR_TYPES.get(st, "error"),
                                                "injected request failure"))
            return self.dispatch(parts, q, body)

    def dispatch(self, parts, q, body):
        m = self.command
        if not parts:
            return self.send(200, {"name": "fake", "cluster_name": "fake",
                                   "version": {"distribution": "opensearch", "number": "2.11.0"},
                                   "tagline": "The OpenSearch Project: https://opensearch.org/"})
        if parts == ["_cat", "plugins"] and m == "GET":
            STATE.counters["plugins"] += 1
            rows = [{"name": "fake-node", "component": "analysis-kuromoji", "version": "2.11.0"}
                    ] if STATE.kuromoji else []
            if q.get("format") == "json":
                return self.send(200, rows)
            text = "".join(f"{r['name']} {r['component']} {r['version']}\n" for r in rows)
            return self.send(200, raw=text.encode(), ctype="text/plain; charset=UTF-8")
        if parts == ["_nodes", "plugins"] and m == "GET":
            plugins = [{"name": "analysis-kuromoji"}] if STATE.kuromoji else []
            return self.send(200, {"nodes": {"n1": {"name": "fake-node", "plugins": plugins}}})
        if parts[-1] == "_bulk" and len(parts) <= 2:
            if m not in ("POST", "PUT"):
                return self.send(405, error_body(405, "method_not_allowed", "use POST"))
            if STATE.hang["count"] > 0:
                STATE.hang["count"] -= 1
                STATE.counters["rejected"] += 1
                time.sleep(STATE.hang["seconds"])
                return self.send(503, error_body(503, "cluster_block_exception", "hung"))
            return self.bulk(parts[0] if len(parts) == 2 else None, body)
        name = parts[0]
        if name.startswith("_") or name != name.lower():
            return self.send(400, error_body(400, "invalid_index_name_exception",
                                             f"Invalid index name [{name}]", index=name))
        if len(parts) == 1:
            return self.index_admin(name, body)
        if len(parts) == 3 and parts[1] == "_doc" and m == "GET":
            return self.get_doc(name, parts[2], q)
        if len(parts) == 3 and parts[1] == "_update" and m == "POST":
            return self.update(name, parts[2], body)
        if len(parts) == 2 and parts[1] == "_search" and m in ("GET", "POST"):
            return self.search(name, body)
        if len(parts) == 2 and parts[1] == "_delete_by_query" and m == "POST":
            return self.delete_by_query(name, body)
        if len(parts) == 2 and parts[1] == "_refresh" and m in ("POST", "GET"):
            if name not in STATE.indices:
                return self.index_missing(name)
            STATE.counters["refresh"] += 1
            return self.send(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
        if len(parts) == 2 and parts[1] == "_mapping" and m == "PUT":
            return self.put_mapping(name, body)
        return self.send(400, error_body(400, "illegal_argument_exception",
                                         f"no handler found for uri [{self.path}] and method [{m}]"))

    def json_ctype_ok(self):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return ctype == "application/json"

    # --- indices ----------------------------------------------------------
    def index_admin(self, name, body):
        m = self.command
        idx = STATE.indices.get(name)
        if m == "HEAD":
            STATE.counters["head_index"] += 1
            if STATE.head_404 > 0:
                STATE.head_404 -= 1
                return self.send(404)
            return self.send(200 if idx else 404)
        if m == "PUT":
            if body and not self.json_ctype_ok():
                return self.violation(406, "", "Content-Type header [%s] is not supported"
                                      % self.headers.get("Content-Type"))
            if idx:
                return self.send(400, error_body(
                    400, "resource_already_exists_exception",
                    f"index [{name}/fakeuuid] already exists", index=name))
            try:
                spec = json.loads(body or b"{}")
            except ValueError as e:
                return self.violation(400, "x_content_parse_exception", f"bad JSON: {e}")
            analyzers = []
            walk_analyzers(spec.get("mappings", {}), analyzers)
            known = BUILTIN_ANALYZERS | ({"kuromoji"} if STATE.kuromoji else set())
            why = check_analysis(spec.get("settings", {}).get("analysis", {}))
            if why:
                return self.send(400, error_body(400, "illegal_argument_exception", why))
            known |= set(spec.get("settings", {}).get("analysis", {}).get("analyzer", {}))
            for a in analyzers:
                if a not in known:
                    return self.send(400, error_body(
                        400, "mapper_parsing_exception",
                        f"Failed to parse mapping [_doc]: analyzer [{a}] has not been "
                        "configured in mappings"))
            STATE.counters["put_index"] += 1
            STATE.indices[name] = {"mappings": spec.get("mappings", {}), "docs": {},
                                   "versions": {}}
            return self.send(200, {"acknowledged": True, "shards_acknowledged": True,
                                   "index": name})
        if m == "GET":
            if not idx:
                return self.index_missing(name)
            return self.send(200, {name: {"mappings": idx["mappings"], "settings": {}}})
        if m == "DELETE":
            if not idx:
                return self.index_missing(name)
            del STATE.indices[name]
            return self.send(200, {"acknowledged": True})
        return self.send(405, error_body(405, "method_not_allowed", m))

    def index_missing(self, name):
        return self.send(404, error_body(404, "index_not_found_exception",
                                         f"no such index [{name}]", index=name))

    # --- _bulk --------------------------------------------------------------
    def bulk(self, url_index, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-ndjson":
            return self.violation(406, "", "Content-Type header [%s] is not supported"
                                  % self.headers.get("Content-Type"))
        if len(body) > MAX_BULK_BODY:
            return self.violation(413, "request_entity_too_large",
                                  f"bulk body of {len(body)} bytes exceeds {MAX_BULK_BODY}")
        if not body:
            return self.violation(400, "action_request_validation_exception",
                                  "Validation Failed: 1: no requests added;")
        if not body.endswith(b"\n"):
            return self.violation(400, "illegal_argument_exception",
                                  "The bulk request must be terminated by a newline [\\n]")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            return self.violation(400, "x_content_parse_exception", f"invalid UTF-8: {e}")
        lines = text[:-1].split("\n")
        actions = []
        i = 0
        while i < len(lines):
            where = f"line {i + 1}"
            try:
                action = json.loads(lines[i])
            except ValueError as e:
                return self.violation(400, "x_content_parse_exception",
                                      f"{where}: not JSON ({e})")
            if not isinstance(action, dict) or len(action) != 1:
                return self.violation(400, "illegal_argument_exception",
                                      f"{where}: malformed action/metadata line, expected one "
                                      "action")
            (op, meta), = action.items()
            if op not in ("index", "create", "delete"):
                return self.violation(400, "illegal_argument_exception",
                                      f"{where}: action [{op}] is not supported here")
            if not isinstance(meta, dict):
                return self.violation(400, "illegal_argument_exception",
                                      f"{where}: action metadata must be an object")
            unknown = set(meta) - {"_index", "_id"}
            if unknown:
                return self.violation(400, "illegal_argument_exception",
                                      f"{where}: unexpected metadata {sorted(unknown)}")
            index = meta.get("_index", url_index)
            if not isinstance(index, str) or not index:
                return self.violation(400, "action_request_validation_exception",
                                      f"{where}: index is missing")
            if not isinstance(meta.get("_id"), str) or not meta["_id"]:
                return self.violation(400, "action_request_validation_exception",
                                      f"{where}: _id is missing (docmill always sets it)")
            source = None
            if op in ("index", "create"):
                i += 1
                if i >= len(lines):
                    return self.violation(400, "illegal_argument_exception",
                                          f"{where}: the action is missing its source line")
                try:
                    source = json.loads(lines[i])
                except ValueError as e:
                    return self.violation(400, "x_content_parse_exception",
                                          f"line {i + 1}: source is not JSON ({e})")
                if not isinstance(source, dict):
                    return self.violation(400, "x_content_parse_exception",
                                          f"line {i + 1}: source is not an object")
            actions.append((op, index, meta["_id"], source))
            i += 1
        STATE.counters["bulk_requests"] += 1
        STATE.counters["bulk_items"] += len(actions)
        STATE.counters["bulk_bytes_max"] = max(STATE.counters["bulk_bytes_max"], len(body))
        STATE.bulk_sizes.append(len(body))
        items = [self.bulk_item(*a) for a in actions]
        errors = any("error" in next(iter(it.values())) for it in items)
        return self.send(200, {"took": 3, "errors": errors, "items": items})

    def bulk_item(self, op, index, doc_id, source):
        out = {"_index": index, "_id": doc_id}

        def failed(status, etype, reason):
            out.update(status=status, error={"type": etype, "reason": reason, "index": index})
            return {op: out}

        f = STATE.fail["item"]
        if f and f["count"] > 0:
            f["count"] -= 1
            st = f["status"]
            return failed(st, f["type"] or ITEM_ERROR_TYPES.get(st, "error"),
                          "injected item failure")
        ie = STATE.item_errors.get(doc_id)
        if ie and ie["count"] != 0:
            ie["count"] -= 1
            return failed(ie["status"], ie["type"], ie["reason"])
        idx = STATE.indices.get(index)
        if idx is None:
            return failed(404, "index_not_found_exception", f"no such index [{index}]")
        docs, versions = idx["docs"], idx["versions"]
        if op == "delete":
            if doc_id in docs:
                del docs[doc_id]
                versions[doc_id] = versions.get(doc_id, 0) + 1
                out.update(result="deleted", status=200, _version=versions[doc_id])
            else:
                out.update(result="not_found", status=404, _version=1)
            return {op: out}
        why = check_value({"type": "object", "properties":
                           idx["mappings"].get("properties", {})}, source, "")
        if why:
            return failed(400, "mapper_parsing_exception", why.replace("[.", "["))
        if op == "create" and doc_id in docs:
            return failed(409, "version_conflict_engine_exception",
                          f"[{doc_id}]: version conflict, document already exists")
        existed = doc_id in docs
        docs[doc_id] = source
        versions[doc_id] = versions.get(doc_id, 0) + 1
        out.update(result="updated" if existed else "created", status=200 if existed else 201,
                   _version=versions[doc_id], _seq_no=versions[doc_id], _primary_term=1,
                   _shards={"total": 1, "successful": 1, "failed": 0})
        return {op: out}

    # --- documents ------------------------------------------------------------
    def get_doc(self, name, doc_id, q):
        STATE.counters["get_doc"] += 1
        idx = STATE.indices.get(name)
        if idx is None:
            return self.index_missing(name)
        if doc_id not in idx["docs"]:
            return self.send(404, {"_index": name, "_id": doc_id, "found": False})
        source = idx["docs"][doc_id]
        inc = q.get("_source_includes")
        if inc:
            keys = inc.split(",")
            source = {k: v for k, v in source.items() if k in keys}
        return self.send(200, {"_index": name, "_id": doc_id, "_version": idx["versions"][doc_id],
                               "_seq_no": 0, "_primary_term": 1, "found": True,
                               "_source": source})

    def update(self, name, doc_id, body):
        STATE.counters["update"] += 1
        if not self.json_ctype_ok():
            return self.violation(406, "", "Content-Type header [%s] is not supported"
                                  % self.headers.get("Content-Type"))
        idx = STATE.indices.get(name)
        if idx is None:
            return self.index_missing(name)
        try:
            req = json.loads(body)
        except ValueError as e:
            return self.violation(400, "x_content_parse_exception", f"bad JSON: {e}")
        if not isinstance(req, dict) or not isinstance(req.get("doc"), dict):
            return self.violation(400, "action_request_validation_exception",
                                  "Validation Failed: 1: script or doc is missing")
        if doc_id not in idx["docs"]:
            return self.send(404, error_body(404, "document_missing_exception",
                                             f"[{doc_id}]: document missing", index=name))
        idx["docs"][doc_id].update(req["doc"])
        idx["versions"][doc_id] += 1
        return self.send(200, {"_index": name, "_id": doc_id, "result": "updated",
                               "_version": idx["versions"][doc_id]})

    def search(self, name, body):
        idx = STATE.indices.get(name)
        if idx is None:
            return self.index_missing(name)
        words, sha, exclude, size, no_containers = [], None, set(), None, False
        try:
            req = json.loads(body) if body else {}
            query = req.get("query", {})
            match = query.get("match", {}).get("pages.text")
            if isinstance(match, str):
                words = match.split()
            # {"bool": {"filter": [{"term": {"sha256": H}}], "must_not": [{"ids": ...}]}}
            b = query.get("bool")
            if b is not None:
                for f in b.get("filter", []):
                    term = f["term"]
                    if set(term) != {"sha256"} or not isinstance(term["sha256"], str):
                        raise ValueError("term on sha256 only")
                    sha = term["sha256"]
                for f in b.get("must_not", []):
                    if "range" in f:
                        # {"range": {"members": {"gt": 0}}}: containers left out
                        if f["range"] != {"members": {"gt": 0}}:
                            raise ValueError("range on members > 0 only")
                        no_containers = True
                        continue
                    exclude.update(f["ids"]["values"])
            size = req.get("size")
        except (ValueError, AttributeError, KeyError, TypeError):
            return self.send(400, error_body(400, "parsing_exception", "bad query"))
        hits = []
        for doc_id, src in idx["docs"].items():
            if doc_id in exclude or (sha is not None and src.get("sha256") != sha):
                continue
            if no_containers and (src.get("members") or 0) > 0:
                continue
            text = " ".join(p.get("text") or "" for p in src.get("pages") or [])
            if all(w.lower() in text.lower() for w in words):
                hits.append({"_index": name, "_id": doc_id, "_score": 1.0, "_source": src})
        if isinstance(size, int):
            hits = hits[:size]
        return self.send(200, {"took": 1, "timed_out": False,
                               "hits": {"total": {"value": len(hits), "relation": "eq"},
                                        "hits": hits}})

    def put_mapping(self, name, body):
        """Adds fields to an index's mapping, as OpenSearch allows; a field
        that is there already must keep its type."""
        idx = STATE.indices.get(name)
        if idx is None:
            return self.index_missing(name)
        try:
            props = json.loads(body)["properties"]
            if not isinstance(props, dict):
                raise ValueError("properties must be an object")
        except (ValueError, KeyError, TypeError) as e:
            return self.violation(400, "mapper_parsing_exception", "bad mapping: %s" % e)

        def merge(into, new, path):
            for k, v in new.items():
                old = into.get(k)
                if old is None:
                    into[k] = v
                elif "properties" in v:
                    merge(old.setdefault("properties", {}), v["properties"], path + k + ".")
                elif old.get("type") != v.get("type"):
                    raise ValueError("mapper [%s%s] cannot be changed from type [%s] to [%s]"
                                     % (path, k, old.get("type"), v.get("type")))
        try:
            merge(idx["mappings"].setdefault("properties", {}), props, "")
        except ValueError as e:
            return self.send(400, error_body(400, "illegal_argument_exception", str(e)))
        STATE.counters["put_mapping"] += 1
        return self.send(200, {"acknowledged": True})

    def delete_by_query(self, name, body):
        """{"query": {"terms": {"parent": [ids]}}}: what docmill sends to remove
        a container's members."""
        idx = STATE.indices.get(name)
        if idx is None:
            return self.index_missing(name)
        if not self.json_ctype_ok():
            return self.violation(406, "content_type", "delete_by_query needs application/json")
        try:
            terms = json.loads(body)["query"]["terms"]
            if set(terms) != {"parent"} or not all(isinstance(x, str) for x in terms["parent"]):
                raise ValueError("terms on parent only")
            if "parent" not in idx["mappings"].get("properties", {}):
                raise ValueError("parent is not mapped")
            parents = set(terms["parent"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return self.violation(400, "parsing_exception", "bad delete_by_query: %s" % e)
        gone = [i for i, src in idx["docs"].items() if src and src.get("parent") in parents]
        for i in gone:
            del idx["docs"][i]
        STATE.counters["delete_by_query"] += 1
        return self.send(200, {"took": 1, "timed_out": False, "total": len(gone),
                               "deleted": len(gone), "failures": []})

    # --- control ----------------------------------------------------------------
    def control(self, parts, q):
        what = parts[0] if parts else ""
        if what == "docs" and self.command == "GET":
            sources = q.get("sources", "1") != "0"
            indices = {}
            for name, idx in STATE.indices.items():
                if q.get("index") and q["index"] != name:
                    continue
                indices[name] = {"mappings": idx["mappings"],
                                 "docs": {k: (v if sources else None)
                                          for k, v in idx["docs"].items()}}
            return self.send(200, {"indices": indices, "counters": STATE.counters,
                                   "violations": STATE.violations,
                                   "authorization": STATE.authorization,
                                   "bulk_sizes": STATE.bulk_sizes})
        if self.command != "POST":
            return self.send(405, {"error": "control endpoints take POST"})
        if what == "reset":
            STATE.reset()
        elif what == "fail":
            scope = q.get("scope", "item")
            if scope not in STATE.fail:
                return self.send(400, {"error": "scope is item or request"})
            STATE.fail[scope] = {"status": int(q.get("status", "429")),
                                 "count": int(q.get("count", "1")), "type": q.get("type")}
        elif what == "item_error":
            STATE.item_errors[q["id"]] = {
                "status": int(q.get("status", "400")),
                "type": q.get("type", "mapper_parsing_exception"),
                "reason": q.get("reason", "failed to parse (injected)"),
                "count": int(q.get("count", "-1"))}
        elif what == "down":
            STATE.down_until = time.monotonic() + float(q.get("seconds", "1"))
            STATE.down_mode = q.get("mode", "503")
        elif what == "plugins":
            STATE.kuromoji = q.get("kuromoji", "1") == "1"
        elif what == "head_404":
            STATE.head_404 = int(q.get("count", "1"))
        elif what == "hang":
            STATE.hang = {"count": int(q.get("count", "1")), "seconds": float(q.get("seconds", "2"))}
        elif what == "auth":
            user, pw = q.get("user", ""), q.get("password", "")
            STATE.auth = ("Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
                          if user else None)
        else:
            return self.send(404, {"error": f"unknown control endpoint {what}"})
        return self.send(200, {"ok": True})


def watch_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    global STATE, VERBOSE
    args = sys.argv[1:]
    port = 0
    if "--port" in args:
        port = int(args[args.index("--port") + 1])
    VERBOSE = "--verbose" in args
    STATE = State(kuromoji="--kuromoji" in args)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=watch_parent, daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
