/**
 * The connection token: the one given, or one from `getToken`, kept for
 * reconnects until the server says it expired.
 */
import { ClientErrorCode, ParleyError } from "./errors.js";
export class ConnectionTokens {
    #token;
    #getToken;
    constructor(token, getToken) {
        this.#token = token;
        this.#getToken = getToken;
    }
    /** Whether a fresh token can be had (a `getToken` was given). */
    get renewable() {
        return this.#getToken !== undefined;
    }
    /** The token to connect with: the kept one, else a fresh one; `undefined` for anonymous. */
    async current() {
        if (this.#token === undefined && this.#getToken !== undefined)
            this.#token = await this.fresh();
        return this.#token;
    }
    /** A new token from `getToken`; rejects with `TokenUnavailable` when there is none. */
    async fresh() {
        if (this.#getToken === undefined)
            throw new ParleyError(ClientErrorCode.TokenUnavailable, "no getToken option");
        const token = await this.#getToken();
        if (typeof token !== "string" || token === "") {
            throw new ParleyError(ClientErrorCode.TokenUnavailable, "getToken did not return a token string");
        }
        return token;
    }
    /** Keeps `token` (after a successful refresh) for the next connect. */
    use(token) {
        this.#token = token;
    }
    /** Forgets the expired token; `false` when no `getToken` can replace it. */
    expire() {
        if (this.#getToken === undefined)
            return false;
        this.#token = undefined;
        return true;
    }
}
