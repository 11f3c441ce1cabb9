/**
 * Rooms of members-only namespaces: creating them, changing their members,
 * and listing the user's rooms. `parley.rooms`.
 */

import type { RoomCreateResult, RoomMember, RoomMembersResult, RoomsPage } from "./protocol.js";
import { defined, type Caller } from "./requests.js";

/** What {@link Rooms.create} makes. */
export type RoomSpec =
  | { kind: "direct"; namespace: string; with: string }
  | { kind: "group"; namespace: string; channel?: undefined; members: string[]; moderators?: string[] }
  | { kind: "group"; channel: string; namespace?: undefined; members: string[]; moderators?: string[] };

export class Rooms {
  readonly #call: Caller;

  /** Made by the client; use `parley.rooms`. */
  constructor(call: Caller) {
    this.#call = call;
  }

  /**
   * Creates a room. A direct room with the same user returns the existing
   * one (`created: false`).
   */
  create(spec: RoomSpec): Promise<RoomCreateResult> {
    if (spec.kind === "direct") {
      return this.#call("room_create", { kind: "direct", namespace: spec.namespace, members: [spec.with] });
    }
    return this.#call(
      "room_create",
      defined({
        kind: "group",
        namespace: spec.namespace,
        channel: spec.channel,
        members: spec.members,
        moderators: spec.moderators,
      }),
    );
  }

  /** Adds users to a group room, as members or (by its owner) moderators. */
  addMembers(channel: string, members: string[], options: { role?: Exclude<RoomMember["role"], "owner"> } = {}): Promise<RoomMembersResult> {
    return this.#call("room_add_members", defined({ channel, members, role: options.role }));
  }

  /** Removes users from a group room; a member may remove themselves. */
  removeMembers(channel: string, members: string[]): Promise<RoomMembersResult> {
    return this.#call("room_remove_members", { channel, members });
  }

  /** A page of the user's rooms, most recently active first. */
  list(options: { cursor?: string; limit?: number } = {}): Promise<RoomsPage> {
    return this.#call("rooms", defined({ ...options }));
  }
}
