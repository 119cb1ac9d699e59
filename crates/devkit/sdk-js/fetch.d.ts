// Typings of `lord:fetch`, written into .lord/types by `lord pdk build`.
//
// Plugin calls are synchronous: `fetch` blocks until the whole answer is
// read and returns the Response itself (not a Promise), and its body
// methods return their values directly. Awaiting either still works where
// code can await, since awaiting a plain value gives the value back.
declare module 'lord:fetch' {
  /** Header values: an object, a list of pairs, or a Headers. */
  export type HeadersInit = Headers | Record<string, string> | Iterable<readonly [string, string]>;

  /** Header names and values, names compared without regard to case. */
  export class Headers implements Iterable<[string, string]> {
    constructor(init?: HeadersInit);
    append(name: string, value: string): void;
    set(name: string, value: string): void;
    delete(name: string): void;
    /** Every value of `name` joined by `, `, or null when there is none. */
    get(name: string): string | null;
    has(name: string): boolean;
    forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void;
    entries(): IterableIterator<[string, string]>;
    keys(): IterableIterator<string>;
    values(): IterableIterator<string>;
    [Symbol.iterator](): IterableIterator<[string, string]>;
  }

  export interface RequestInit {
    /** `GET` unless told; any method the server knows. */
    method?: string;
    headers?: HeadersInit;
    /** Not allowed with GET or HEAD. */
    body?: string | Uint8Array | ArrayBuffer | ArrayBufferView | null;
    /**
     * `follow` (the default): a GET or HEAD follows up to 5 redirects, each
     * a new request the host checks against the plugin's `net` grants; other
     * methods return the 3xx. `manual`: the 3xx is returned. `error`: a
     * redirect throws.
     */
    redirect?: 'follow' | 'manual' | 'error';
    /** The largest body accepted, in bytes (8 MiB unless told); the call's
     * output budget caps it too. */
    maxBody?: number;
  }

  /** An answer, its body already read whole. */
  export class Response {
    constructor(body?: string | Uint8Array | ArrayBuffer | null, init?: { status?: number; statusText?: string; headers?: HeadersInit; url?: string; redirected?: boolean });
    readonly status: number;
    readonly statusText: string;
    /** `status` is 200 to 299. */
    readonly ok: boolean;
    readonly headers: Headers;
    /** The URL that answered, after the redirects followed. */
    readonly url: string;
    readonly redirected: boolean;
    text(): string;
    /** Throws a SyntaxError when the body is not JSON. */
    json(): any;
    arrayBuffer(): ArrayBuffer;
    bytes(): Uint8Array;
  }

  /** The largest body accepted unless `maxBody` says otherwise. */
  export const DEFAULT_MAX_BODY: number;

  /**
   * Sends a request through the host (which checks its host and port
   * against the plugin's `net(HOST[:PORT])` grants before connecting) and
   * returns the answer once its body is read whole. Throws a TypeError
   * naming the host and port (never the path or query) when the request
   * is refused or fails.
   */
  export function fetch(input: string | { url: string } | { toString(): string }, init?: RequestInit): Response;
}
