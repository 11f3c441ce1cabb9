// The HTTP API as the admin UI calls it: the API key from this tab's
// session storage as `Authorization: Bearer`, JSON in and out, and every
// error answer turned into an `ApiFailure` with the status and the
// server's message.

const KEY = "parley-admin-api-key";

/** A refused or failed call: `status` (0 when the server did not answer) and the server's message. */
export class ApiFailure extends Error {
  constructor(status, message) {
    super(status ? `${status}: ${message}` : message);
    this.status = status;
    this.serverMessage = message;
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY) ?? "",
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

/**
 * Calls the API: `call("GET", "/api/v1/info")`,
 * `call("POST", "/api/v1/publish", { channel, data })`. `query` values that
 * are empty are left out. Resolves with the parsed JSON body.
 */
export async function call(method, path, { query, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { authorization: `Bearer ${apiKey.get()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiFailure(0, `the server did not answer (${error.message})`);
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the status line says enough.
  }
  if (!response.ok) {
    const message = parsed?.error?.message ?? (text || response.statusText);
    throw new ApiFailure(response.status, message);
  }
  return parsed;
}

/** A channel name as one path segment (`#` and `/` escaped; `:` may stay). */
export function segment(channel) {
  return encodeURIComponent(channel).replaceAll("%3A", ":");
}
