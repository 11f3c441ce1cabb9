/**
 * Chat in persisted namespaces: messages (send, edit, delete, pages),
 * reactions, threads, search, pins and read markers. `parley.chat`.
 */
import { defined } from "./requests.js";
import { sendParams } from "./subscription.js";
export class Chat {
    #call;
    /** Made by the client; use `parley.chat`. */
    constructor(call) {
        this.#call = call;
    }
    /**
     * Sends a message. The reply comes once it is stored. Without
     * `clientMsgId` the SDK picks one, so the message can be resent safely.
     */
    send(channel, text, options = {}) {
        return this.#call("message_send", sendParams(channel, text, options));
    }
    /** Replaces the text of one of the user's messages. */
    edit(id, text) {
        return this.#call("message_edit", { id, text });
    }
    /** Deletes a message (leaving a tombstone; `hard` for moderators removes it). */
    delete(id, options = {}) {
        return this.#call("message_delete", defined({ id, hard: options.hard }));
    }
    /** A page of the channel's messages, newest first by default. */
    messages(channel, options = {}) {
        return this.#call("messages", defined({ channel, ...options }));
    }
    /**
     * Every page of the channel's messages, from the newest back to the
     * oldest: `for await (const page of parley.chat.pages("talk:1")) ...`.
     */
    async *pages(channel, options = {}) {
        let before;
        for (;;) {
            const page = await this.messages(channel, { before, limit: options.limit, order: "newest_first" });
            yield page;
            const oldest = page.messages[page.messages.length - 1];
            if (!page.has_older || oldest === undefined)
                return;
            before = oldest.id;
        }
    }
    /** The texts a message had before its edits (moderators). */
    async editTrail(id) {
        const result = await this.#call("edit_trail", { id });
        return result.revisions;
    }
    /** Adds the user's reaction to a message or to a channel. */
    react(target, emoji) {
        return this.#call("reaction_add", reactionParams(target, emoji));
    }
    /** Takes the user's reaction back. */
    unreact(target, emoji) {
        return this.#call("reaction_remove", reactionParams(target, emoji));
    }
    /** The reactions to a channel itself, per emoji. */
    async reactions(channel) {
        const result = await this.#call("reactions", { channel });
        return result.reactions;
    }
    /** A page of the replies to a message, oldest first. */
    thread(messageId, options = {}) {
        return this.#call("thread", defined({ message_id: messageId, ...options }));
    }
    /** Full-text search, newest first: in one channel, or in all of the user's rooms. */
    search(query, options = {}) {
        return this.#call("search", defined({ query, ...options }));
    }
    /** Pins a message of the channel. */
    pin(channel, messageId) {
        return this.#call("message_pin", { channel, message_id: messageId });
    }
    /** Unpins a message of the channel. */
    unpin(channel, messageId) {
        return this.#call("message_unpin", { channel, message_id: messageId });
    }
    /** The channel's pinned messages, most recently pinned first. */
    async pins(channel) {
        const result = await this.#call("pins", { channel });
        return result.pins;
    }
    /** Marks the message, and everything before it, read. */
    readMark(channel, messageId) {
        return this.#call("read_mark", { channel, message_id: messageId });
    }
    /** Marks the message, and everything after it, unread again. */
    markUnread(channel, messageId) {
        return this.#call("mark_unread", { channel, message_id: messageId });
    }
    /** The user's unread counts, per channel and in total. */
    unread() {
        return this.#call("unread", {});
    }
}
function reactionParams(target, emoji) {
    return defined({ message_id: target.message, channel: target.channel, emoji });
}
