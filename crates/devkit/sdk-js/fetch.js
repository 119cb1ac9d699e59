// `lord:fetch`: the Fetch API for lord plugins written in JavaScript or
// TypeScript, over `wasi:http/outgoing-handler`. Written into a project's
// .lord/sdk/ by `lord pdk build`, which bundles it when the code imports
// 'lord:fetch'; do not edit this copy.
//
// The host makes every request: it checks the URL's host and port against
// the plugin's `net(HOST[:PORT])` grants before connecting, sets `Host`
// from the URL, speaks TLS for https://, charges the response body to the
// call's output budget and gives up at the call's deadline. A redirect this
// module follows is a new request, checked again.
//
// Plugin calls are synchronous, so `fetch` blocks until the whole answer is
// read and returns the Response itself, not a Promise. `await` on it (or on
// `text()`, `json()`...) still works where code can await, since awaiting a
// plain value gives the value back.

import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingBody, OutgoingRequest } from 'wasi:http/types@0.2.12';

/** The largest body accepted unless `init.maxBody` says otherwise. */
export const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
/** How many redirects a GET or HEAD follows. */
const MAX_REDIRECTS = 5;
/** A blocking write takes at most 4096 bytes (wasi:io). */
const WRITE_CHUNK = 4096;
const READ_CHUNK = 64 * 1024;

// The engines differ in how a WIT error reaches JavaScript: SpiderMonkey
// (componentize-js) throws an Error carrying the value as `payload`, QuickJS
// throws the value itself. Both give variants as `{ tag, val }`.
function payloadOf(thrown) {
  if (thrown !== null && typeof thrown === 'object' && 'payload' in thrown) {
    return thrown.payload;
  }
  return thrown;
}

function tagOf(value) {
  return value !== null && typeof value === 'object' && typeof value.tag === 'string'
    ? value.tag.toLowerCase()
    : '';
}

// Owned handles are given back at once rather than when the garbage
// collector gets to them: the host counts a plugin's open handles, and
// wasi:http wants a body's stream dropped before the body is finished.
function dispose(resource) {
  if (resource != null && typeof resource[Symbol.dispose] === 'function') {
    resource[Symbol.dispose]();
  }
}

function utf8Encode(text) {
  if (typeof TextEncoder === 'function') return new TextEncoder().encode(text);
  const bytes = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(bytes);
}

function utf8Decode(bytes) {
  if (typeof TextDecoder === 'function') return new TextDecoder().decode(bytes);
  let text = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const size = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    let c = size === 1 ? (b < 0x80 ? b : 0xfffd) : b & (0xff >> (size + 1));
    for (let k = 1; k < size; k++) c = (c << 6) | ((bytes[i + k] ?? 0) & 63);
    text += String.fromCodePoint(c > 0x10ffff ? 0xfffd : c);
    i += size;
  }
  return text;
}

/** Header names and values, names compared without regard to case. */
export class Headers {
  #list = [];

  constructor(init) {
    if (init == null) return;
    const pairs =
      init instanceof Headers || Array.isArray(init)
        ? init
        : typeof init[Symbol.iterator] === 'function'
          ? init
          : Object.entries(init);
    for (const [name, value] of pairs) this.append(name, value);
  }

  append(name, value) {
    this.#list.push([String(name).toLowerCase(), String(value)]);
  }

  set(name, value) {
    this.delete(name);
    this.append(name, value);
  }

  delete(name) {
    const key = String(name).toLowerCase();
    this.#list = this.#list.filter(([n]) => n !== key);
  }

  /** Every value of `name` joined by `, `, or null when there is none. */
  get(name) {
    const key = String(name).toLowerCase();
    const values = this.#list.filter(([n]) => n === key).map(([, v]) => v);
    return values.length === 0 ? null : values.join(', ');
  }

  has(name) {
    return this.get(name) !== null;
  }

  forEach(callback, thisArg) {
    for (const [name, value] of this) callback.call(thisArg, value, name, this);
  }

  *entries() {
    for (const pair of this.#list) yield [pair[0], pair[1]];
  }

  *keys() {
    for (const [name] of this.#list) yield name;
  }

  *values() {
    for (const [, value] of this.#list) yield value;
  }

  [Symbol.iterator]() {
    return this.entries();
  }
}

/** An answer, its body already read whole. */
export class Response {
  #body;

  constructor(body, init = {}) {
    this.#body = body == null ? new Uint8Array(0) : typeof body === 'string' ? utf8Encode(body) : new Uint8Array(body);
    this.status = init.status ?? 200;
    this.statusText = init.statusText ?? '';
    this.headers = new Headers(init.headers);
    this.url = init.url ?? '';
    this.redirected = init.redirected ?? false;
    this.ok = this.status >= 200 && this.status <= 299;
  }

  /** The body as text (UTF-8). */
  text() {
    return utf8Decode(this.#body);
  }

  /** The body parsed as JSON; throws a SyntaxError when it is not. */
  json() {
    return JSON.parse(this.text());
  }

  arrayBuffer() {
    return this.#body.slice().buffer;
  }

  bytes() {
    return this.#body.slice();
  }
}

/** A URL split the way wasi:http wants it. */
function split(url) {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(url);
  if (match === null) throw new TypeError(`\`${url}\` is not an absolute http or https URL`);
  const scheme = match[1].toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    throw new TypeError(`only http and https URLs can be fetched, not ${scheme}:`);
  }
  const authority = match[2];
  if (authority === '' || authority.includes('@')) {
    throw new TypeError('the URL needs a plain host (credentials go in a header, not the URL)');
  }
  let path = match[3] === '' ? '/' : match[3];
  if (!path.startsWith('/')) path = `/${path}`;
  return { scheme, authority, path };
}

/** The headers that carry credentials, kept to the request's own origin. */
const CREDENTIALS = ['authorization', 'proxy-authorization', 'cookie'];

/** What makes two URLs one origin: scheme, host and port as written. */
function origin(url) {
  const { scheme, authority } = split(url);
  return `${scheme}://${authority.toLowerCase()}`;
}

/** `location` read against `base`, as a browser would. */
function resolve(base, location) {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location)) return location;
  const { scheme, authority, path } = split(base);
  if (location.startsWith('//')) return `${scheme}:${location}`;
  if (location.startsWith('/')) return `${scheme}://${authority}${location}`;
  const dir = path.split('?')[0].replace(/[^/]*$/, '');
  return `${scheme}://${authority}${dir}${location}`;
}

// The host's error code in words, naming only the host and port: a path
// or query may hold a secret.
function describe(code, authority) {
  const tag = tagOf(code);
  if (tag === 'http-request-denied') {
    return `the host refused the request to ${authority}: no \`net\` grant covers it (add net(${authority}) to the manifest's permissions)`;
  }
  if (tag === 'http-response-body-size') {
    return `the response from ${authority} is larger than the call's output budget`;
  }
  if (tag === 'connection-timeout' || tag === 'http-response-timeout') {
    return `the request to ${authority} ran out of the call's time`;
  }
  if (tag === 'connection-refused') return `${authority} refused the connection`;
  if (tag === 'dns-error') return `the name in ${authority} could not be resolved`;
  return `the request to ${authority} failed (${tag || String(code)})`;
}

function methodOf(name) {
  const known = ['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch'];
  const lower = name.toLowerCase();
  return known.includes(lower) ? { tag: lower } : { tag: 'other', val: name };
}

function bodyBytes(body) {
  if (body == null) return null;
  if (typeof body === 'string') return utf8Encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('a request body is a string, a Uint8Array or an ArrayBuffer');
}

function writeBody(outgoing, bytes) {
  const stream = outgoing.write();
  try {
    for (let at = 0; at < bytes.length; at += WRITE_CHUNK) {
      stream.blockingWriteAndFlush(bytes.subarray(at, at + WRITE_CHUNK));
    }
  } catch (thrown) {
    throw new TypeError(`sending the request body failed (${tagOf(payloadOf(thrown)) || thrown})`);
  } finally {
    dispose(stream);
  }
}

function readBody(incoming, max, authority) {
  const stream = incoming.stream();
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(READ_CHUNK);
      } catch (thrown) {
        const error = payloadOf(thrown);
        if (tagOf(error) === 'closed') break;
        throw new TypeError(`reading the response from ${authority} failed`);
      }
      size += chunk.length;
      if (size > max) {
        throw new TypeError(`the response from ${authority} is larger than ${max} bytes (maxBody)`);
      }
      chunks.push(chunk);
    }
  } finally {
    dispose(stream);
    dispose(incoming);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

/** Waits for the answer to a sent request. */
function answer(pending, authority) {
  let outcome = pending.get();
  while (outcome == null) {
    const ready = pending.subscribe();
    ready.block();
    dispose(ready);
    outcome = pending.get();
  }
  dispose(pending);
  // option<result<result<incoming-response, error-code>>>: the outer
  // result only says whether the answer was already taken.
  const inner = outcome.tag === 'ok' ? outcome.val : null;
  if (inner == null) throw new TypeError(`the answer from ${authority} was already taken`);
  if (inner.tag !== 'ok') throw new TypeError(describe(inner.val, authority));
  return inner.val;
}

/** One request and its answer, with no redirect followed. */
function once(method, url, headers, body, maxBody) {
  const { scheme, authority, path } = split(url);
  const fields = new Fields();
  for (const [name, value] of headers) {
    try {
      fields.append(name, utf8Encode(value));
    } catch {
      throw new TypeError(`the header \`${name}\` was refused (its name or value is not valid)`);
    }
  }
  const request = new OutgoingRequest(fields);
  try {
    request.setMethod(methodOf(method));
    request.setScheme({ tag: scheme === 'https' ? 'HTTPS' : 'HTTP' });
    request.setAuthority(authority);
    request.setPathWithQuery(path);
  } catch {
    throw new TypeError(`the request to ${authority} is not valid (its method, host or path)`);
  }
  const outgoing = request.body();
  let pending;
  try {
    pending = handle(request, undefined);
  } catch (thrown) {
    throw new TypeError(describe(payloadOf(thrown), authority));
  }
  // Sent first, then the body written: the host reads the body only once
  // the request is on its way.
  if (body !== null && body.length > 0) writeBody(outgoing, body);
  try {
    OutgoingBody.finish(outgoing, undefined);
  } catch (thrown) {
    throw new TypeError(describe(payloadOf(thrown), authority));
  }
  const response = answer(pending, authority);
  const status = response.status();
  const head = response.headers();
  const entries = head.entries().map(([name, value]) => [name, utf8Decode(value)]);
  dispose(head);
  const incoming = response.consume();
  const bytes = readBody(incoming, maxBody, authority);
  dispose(response);
  return { status, headers: entries, body: bytes };
}

/**
 * Sends a request through the host and returns its Response once the
 * body is read whole. GET and HEAD follow up to 5 redirects, each a new
 * request the host checks against the grants; `redirect: 'manual'`
 * returns the 3xx itself, `redirect: 'error'` throws on one. A redirect
 * to another origin (scheme, host or port) goes without the request's
 * credentials (`authorization`, `proxy-authorization`, `cookie`), as
 * browsers do: a token meant for one host must not reach the host it
 * sends us to, nor cross to plain http. Failures throw a TypeError naming
 * the host and port only.
 */
export function fetch(input, init = {}) {
  let url = typeof input === 'string' ? input : String(input?.url ?? input);
  const method = String(init.method ?? 'GET').toUpperCase();
  const given = new Headers(init.headers);
  const body = bodyBytes(init.body);
  // A body of known size is announced, as browsers do, rather than sent
  // in chunks a simple server may not read.
  if (body !== null && !given.has('content-length')) given.set('content-length', String(body.length));
  const headers = [...given];
  if (body !== null && (method === 'GET' || method === 'HEAD')) {
    throw new TypeError(`a ${method} request cannot have a body`);
  }
  const mode = init.redirect ?? 'follow';
  if (mode !== 'follow' && mode !== 'manual' && mode !== 'error') {
    throw new TypeError(`redirect is 'follow', 'manual' or 'error', not '${mode}'`);
  }
  const maxBody = init.maxBody ?? DEFAULT_MAX_BODY;
  let left = method === 'GET' || method === 'HEAD' ? MAX_REDIRECTS : 0;
  let redirected = false;
  const own = origin(url);
  const withoutCredentials = headers.filter(([name]) => !CREDENTIALS.includes(name.toLowerCase()));
  for (;;) {
    const sent = origin(url) === own ? headers : withoutCredentials;
    const got = once(method, url, sent, body, maxBody);
    const response = new Response(got.body, { status: got.status, headers: got.headers, url, redirected });
    const location = response.headers.get('location');
    const isRedirect = [301, 302, 303, 307, 308].includes(got.status) && location !== null;
    if (!isRedirect || mode === 'manual') return response;
    if (mode === 'error') throw new TypeError(`${split(url).authority} answered with a redirect (redirect: 'error')`);
    if (left === 0) return response;
    left -= 1;
    url = resolve(url, location);
    redirected = true;
  }
}
