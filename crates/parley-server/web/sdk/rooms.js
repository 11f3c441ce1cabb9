/**
 * Rooms of members-only namespaces: creating them, changing their members,
 * and listing the user's rooms. `parley.rooms`.
 */
import { defined } from "./requests.js";
export class Rooms {
    #call;
    /** Made by the client; use `parley.rooms`. */
    constructor(call) {
        this.#call = call;
    }
    /**
     * Creates a room. A direct room with the same user returns the existing
     * one (`created: false`).
     */
    create(spec) {
        if (spec.kind === "direct") {
            return this.#call("room_create", { kind: "direct", namespace: spec.namespace, members: [spec.with] });
        }
        return this.#call("room_create", defined({
            kind: "group",
            namespace: spec.namespace,
            channel: spec.channel,
            members: spec.members,
            moderators: spec.moderators,
        }));
    }
    /** Adds users to a group room, as members or (by its owner) moderators. */
    addMembers(channel, members, options = {}) {
        return this.#call("room_add_members", defined({ channel, members, role: options.role }));
    }
    /** Removes users from a group room; a member may remove themselves. */
    removeMembers(channel, members) {
        return this.#call("room_remove_members", { channel, members });
    }
    /** A page of the user's rooms, most recently active first. */
    list(options = {}) {
        return this.#call("rooms", defined({ ...options }));
    }
}
