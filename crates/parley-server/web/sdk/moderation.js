/**
 * Moderation: mutes, bans and hidden messages (for moderators), and every
 * user's block list and reports. `parley.moderation`.
 */
import { defined } from "./requests.js";
export class Moderation {
    #call;
    /** Made by the client; use `parley.moderation`. */
    constructor(call) {
        this.#call = call;
    }
    /** Mutes a user; `shadow` accepts their messages but shows them to nobody else. */
    mute(spec) {
        return this.#call("mute", defined({ ...spec }));
    }
    /** Lifts a mute of the same scope; resolves whether one was in force. */
    async unmute(spec) {
        const result = await this.#call("unmute", defined({ ...spec }));
        return result.lifted;
    }
    /** Bans a user from a channel or from the whole app. */
    ban(spec) {
        return this.#call("ban", defined({ ...spec }));
    }
    /** Lifts a ban; resolves whether one was in force. */
    async unban(spec) {
        const result = await this.#call("unban", defined({ ...spec }));
        return result.lifted;
    }
    /** Hides a message from everyone but moderators. */
    hide(id) {
        return this.#call("message_hide", { id });
    }
    /** Shows a hidden message again. */
    unhide(id) {
        return this.#call("message_unhide", { id });
    }
    /** Blocks a user; resolves the caller's whole block list. */
    async block(user) {
        const result = await this.#call("block", { user });
        return result.blocks;
    }
    /** Unblocks a user; resolves the caller's whole block list. */
    async unblock(user) {
        const result = await this.#call("unblock", { user });
        return result.blocks;
    }
    /** The caller's block list. */
    async blocks() {
        const result = await this.#call("blocks", {});
        return result.blocks;
    }
    /** Reports a message to the moderators (once per user and message). */
    report(messageId, reason) {
        return this.#call("report", { message_id: messageId, reason });
    }
}
