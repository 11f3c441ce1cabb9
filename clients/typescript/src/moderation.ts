/**
 * Moderation: mutes, bans and hidden messages (for moderators), and every
 * user's block list and reports. `parley.moderation`.
 */

import type { Message, Report, Restriction } from "./protocol.js";
import { defined, type Caller } from "./requests.js";

/** Who a restriction is for, where, and for how long. */
export interface RestrictionSpec {
  user: string;
  /** A channel of a persisted namespace; without it, the whole app. */
  channel?: string;
  /** Such as `"10m"`, `"2h"`, `"7d"`; without it, until lifted. */
  duration?: string;
}

export class Moderation {
  readonly #call: Caller;

  /** Made by the client; use `parley.moderation`. */
  constructor(call: Caller) {
    this.#call = call;
  }

  /** Mutes a user; `shadow` accepts their messages but shows them to nobody else. */
  mute(spec: RestrictionSpec & { shadow?: boolean }): Promise<Restriction> {
    return this.#call("mute", defined({ ...spec }));
  }

  /** Lifts a mute of the same scope; resolves whether one was in force. */
  async unmute(spec: { user: string; channel?: string; shadow?: boolean }): Promise<boolean> {
    const result = await this.#call<{ lifted: boolean }>("unmute", defined({ ...spec }));
    return result.lifted;
  }

  /** Bans a user from a channel or from the whole app. */
  ban(spec: RestrictionSpec): Promise<Restriction> {
    return this.#call("ban", defined({ ...spec }));
  }

  /** Lifts a ban; resolves whether one was in force. */
  async unban(spec: { user: string; channel?: string }): Promise<boolean> {
    const result = await this.#call<{ lifted: boolean }>("unban", defined({ ...spec }));
    return result.lifted;
  }

  /** Hides a message from everyone but moderators. */
  hide(id: string): Promise<Message> {
    return this.#call("message_hide", { id });
  }

  /** Shows a hidden message again. */
  unhide(id: string): Promise<Message> {
    return this.#call("message_unhide", { id });
  }

  /** Blocks a user; resolves the caller's whole block list. */
  async block(user: string): Promise<string[]> {
    const result = await this.#call<{ blocks: string[] }>("block", { user });
    return result.blocks;
  }

  /** Unblocks a user; resolves the caller's whole block list. */
  async unblock(user: string): Promise<string[]> {
    const result = await this.#call<{ blocks: string[] }>("unblock", { user });
    return result.blocks;
  }

  /** The caller's block list. */
  async blocks(): Promise<string[]> {
    const result = await this.#call<{ blocks: string[] }>("blocks", {});
    return result.blocks;
  }

  /** Reports a message to the moderators (once per user and message). */
  report(messageId: string, reason: string): Promise<Report> {
    return this.#call("report", { message_id: messageId, reason });
  }
}
