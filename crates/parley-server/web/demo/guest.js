// The visitor's guest token, from the server's POST /demo/token. The first
// token names a fresh guest; later ones renew it (the same user id) while
// the current token is still valid.

/** How long before expiry a token is renewed rather than reused. */
const RENEW_MARGIN_MS = 60_000;

export class Guest {
  /** @param {string} name the display name the visitor picked */
  constructor(name) {
    this.name = name;
    this.user = "";
    this.token = "";
    this.expiresAt = 0;
  }

  /**
   * A token to connect with: the current one while it has time left, else
   * a renewed one. Throws an Error whose message is the server's.
   */
  async getToken() {
    if (this.token && this.expiresAt * 1000 - Date.now() > RENEW_MARGIN_MS) return this.token;
    let answer = await request({ name: this.name, renew: this.token || undefined });
    if (answer.status === 401 && this.token) {
      // The old token is past renewing (the tab slept): start as a new guest.
      answer = await request({ name: this.name });
    }
    if (!answer.ok) throw new Error(answer.message);
    this.user = answer.body.user;
    this.token = answer.body.token;
    this.expiresAt = answer.body.expires_at;
    return this.token;
  }
}

async function request(body) {
  const response = await fetch("/demo/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const parsed = await response.json().catch(() => null);
  const message = parsed?.error?.message ?? `the server answered ${response.status}`;
  return { ok: response.ok, status: response.status, body: parsed, message: `${response.status}: ${message}` };
}
