/**
 * The connection token: the one given, or one from `getToken`, kept for
 * reconnects until the server says it expired.
 */

import { ClientErrorCode, ParleyError } from "./errors.js";

export class ConnectionTokens {
  #token: string | undefined;
  readonly #getToken: (() => Promise<string>) | undefined;

  constructor(token: string | undefined, getToken: (() => Promise<string>) | undefined) {
    this.#token = token;
    this.#getToken = getToken;
  }

  /** Whether a fresh token can be had (a `getToken` was given). */
  get renewable(): boolean {
    return this.#getToken !== undefined;
  }

  /** The token to connect with: the kept one, else a fresh one; `undefined` for anonymous. */
  async current(): Promise<string | undefined> {
    if (this.#token === undefined && this.#getToken !== undefined) this.#token = await this.fresh();
    return this.#token;
  }

  /** A new token from `getToken`; rejects with `TokenUnavailable` when there is none. */
  async fresh(): Promise<string> {
    if (this.#getToken === undefined) throw new ParleyError(ClientErrorCode.TokenUnavailable, "no getToken option");
    const token: unknown = await this.#getToken();
    if (typeof token !== "string" || token === "") {
      throw new ParleyError(ClientErrorCode.TokenUnavailable, "getToken did not return a token string");
    }
    return token;
  }

  /** Keeps `token` (after a successful refresh) for the next connect. */
  use(token: string): void {
    this.#token = token;
  }

  /** Forgets the expired token; `false` when no `getToken` can replace it. */
  expire(): boolean {
    if (this.#getToken === undefined) return false;
    this.#token = undefined;
    return true;
  }
}
