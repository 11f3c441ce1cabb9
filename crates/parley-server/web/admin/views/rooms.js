// Rooms: a user's rooms (GET /api/v1/rooms?user=), a room's members, adding
// and removing members, and creating a group room.

import { h, replace } from "/assets/dom.js";
import { call, segment } from "../api.js";
import { attempt, channelLink, field, table } from "./ui.js";

export function showRooms(context) {
  const user = h("input", { required: true, name: "rooms-user" });
  const rooms = h("div", { id: "rooms" });
  const roomChannel = h("input", { required: true, name: "room-channel", placeholder: "team:…" });
  const members = h("div", { id: "room-members" });
  const addUsers = h("input", { name: "add-users", placeholder: "57, 63" });
  const addRole = h("select", { name: "add-role" }, h("option", { value: "member" }, "member"), h("option", { value: "moderator" }, "moderator"));
  const createNamespace = h("input", { required: true, name: "create-namespace", placeholder: "team" });
  const createMembers = h("input", { name: "create-members", placeholder: "42, 57" });
  const created = h("p", { class: "result", role: "status" });

  replace(context.view,
    h("h2", {}, "A user's rooms"),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); loadRooms(); } },
      field("User id", user), h("button", { type: "submit" }, "List")),
    rooms,
    h("h2", {}, "Members of a room"),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); loadMembers(); } },
      field("Room channel", roomChannel), h("button", { type: "submit" }, "Show")),
    members,
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); addMembers(); } },
      field("Add users (comma-separated)", addUsers), field("Role", addRole), h("button", { type: "submit" }, "Add")),
    h("h2", {}, "Create a group room"),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); create(); } },
      field("Namespace (members_only)", createNamespace), field("Members (comma-separated)", createMembers),
      h("button", { type: "submit", class: "primary" }, "Create")),
    created,
  );

  async function loadRooms() {
    const answer = await attempt(context, () => call("GET", "/api/v1/rooms", { query: { user: user.value.trim(), limit: 100 } }));
    if (!answer) return;
    replace(rooms, table("Rooms", ["Channel", "Kind", "Role", "Members", "Unread", ""], answer.rooms.map((room) => [
      channelLink(room.channel), room.kind, room.role ?? "", String(room.member_count ?? ""), String(room.unread ?? 0),
      h("button", { type: "button", onclick: () => { roomChannel.value = room.channel; loadMembers(); } }, "Members"),
    ]), "This user is in no room."));
  }

  async function loadMembers() {
    const channel = roomChannel.value.trim();
    const answer = await attempt(context, () => call("GET", `/api/v1/rooms/${segment(channel)}/members`));
    if (!answer) return;
    replace(members, table("Members", ["User", "Role", "Joined", ""], answer.members.map((member) => [
      h("code", {}, member.user), member.role, new Date(member.joined_at).toLocaleString(),
      h("button", { type: "button", class: "danger", onclick: () => remove(channel, member.user) }, "Remove"),
    ]), "No members."));
  }

  async function addMembers() {
    const channel = roomChannel.value.trim();
    const users = list(addUsers.value);
    if (!channel || users.length === 0) return;
    const answer = await attempt(context, () => call("POST", `/api/v1/rooms/${segment(channel)}/members`, { body: { members: users, role: addRole.value } }));
    if (answer) loadMembers();
  }

  async function remove(channel, member) {
    const answer = await attempt(context, () => call("DELETE", `/api/v1/rooms/${segment(channel)}/members/${encodeURIComponent(member)}`));
    if (answer) loadMembers();
  }

  async function create() {
    const room = await attempt(context, () => call("POST", "/api/v1/rooms", {
      body: { kind: "group", namespace: createNamespace.value.trim(), members: list(createMembers.value) },
    }));
    if (!room) return;
    const channel = room.channel ?? room.room?.channel;
    replace(created, "Created ", channel ? channelLink(channel) : "the room", ".");
    if (channel) {
      roomChannel.value = channel;
      loadMembers();
    }
  }
}

function list(text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean);
}
