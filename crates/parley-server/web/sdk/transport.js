/**
 * The WebSocket the client talks over: the browser's own, or any
 * constructor with the same shape (Node 20 has no global WebSocket; pass
 * the `ws` package's).
 */
/** The `readyState` of an open socket. */
export const OPEN = 1;
/** The constructor to use: the option's, else the global one. */
export function resolveWebSocket(option) {
    if (option !== undefined)
        return option;
    const global = globalThis.WebSocket;
    if (global === undefined) {
        throw new TypeError("no WebSocket in this environment: pass one, for example `new Parley(url, { WebSocket })` with `import WebSocket from 'ws'`");
    }
    return global;
}
const decoder = new TextDecoder();
/**
 * A frame's text. Browsers and `ws` hand text frames over as strings; a
 * binary frame (which Parley never sends) is decoded all the same, so that
 * it fails as malformed JSON rather than as a type error.
 */
export function frameText(data) {
    if (typeof data === "string")
        return data;
    if (data instanceof ArrayBuffer)
        return decoder.decode(data);
    if (ArrayBuffer.isView(data))
        return decoder.decode(data);
    return String(data);
}
/**
 * The socket URL with the app: `/ws?app=<app>`. A URL without a path gets
 * `/ws`; `http(s)` is turned into `ws(s)`.
 */
export function socketUrl(url, app) {
    const parsed = new URL(url);
    if (parsed.protocol === "http:")
        parsed.protocol = "ws:";
    if (parsed.protocol === "https:")
        parsed.protocol = "wss:";
    if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
        throw new TypeError(`a Parley URL is ws:, wss:, http: or https:, not ${parsed.protocol}`);
    }
    if (parsed.pathname === "/" || parsed.pathname === "")
        parsed.pathname = "/ws";
    if (app !== undefined)
        parsed.searchParams.set("app", app);
    return parsed.toString();
}
