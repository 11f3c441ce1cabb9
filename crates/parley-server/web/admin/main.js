// The admin UI's shell: sign-in with an API key, the navigation, and the
// hash routes (#/overview, #/channels, #/channel/<name>, #/moderation,
// #/reports, #/rooms) that each draw one view into #view.

import { replace } from "/assets/dom.js";
import { ApiFailure, apiKey, call } from "./api.js";
import { showOverview } from "./views/overview.js";
import { showChannels } from "./views/channels.js";
import { showChannel } from "./views/channel.js";
import { showModeration } from "./views/moderation.js";
import { showReports } from "./views/reports.js";
import { showRooms } from "./views/rooms.js";

const $ = (id) => document.getElementById(id);

const ROUTES = {
  overview: showOverview,
  channels: showChannels,
  channel: showChannel,
  moderation: showModeration,
  reports: showReports,
  rooms: showRooms,
};

/** Called when a view is left, to stop its timers. */
let leave = () => {};

/** The view's context: where to draw, and how to report a failure. */
const context = {
  view: $("view"),
  fail(error) {
    const element = $("error");
    replace(element, error instanceof ApiFailure ? `The API refused: ${error.message}` : `Failed: ${error.message ?? error}`);
    element.hidden = false;
    if (error instanceof ApiFailure && error.status === 401) signOut("The API key was refused; sign in again.");
  },
  clear() {
    $("error").hidden = true;
  },
  /** Registers what to do when the operator leaves the view. */
  onLeave(callback) {
    leave = callback;
  },
};

function route() {
  leave();
  leave = () => {};
  context.clear();
  if (!apiKey.get()) {
    showSignIn();
    return;
  }
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const show = ROUTES[name] ?? showOverview;
  for (const link of $("nav").querySelectorAll("a")) {
    const current = link.getAttribute("href") === `#/${name === "channel" ? "channels" : name}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  replace(context.view);
  show(context, decodeURIComponent(rest.join("/")));
}

function showSignIn(message) {
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  replace(context.view);
  $("sign-in").hidden = false;
  const error = $("sign-in-error");
  error.hidden = !message;
  if (message) replace(error, message);
  $("api-key").focus();
}

function signOut(message) {
  apiKey.clear();
  leave();
  leave = () => {};
  showSignIn(message);
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  apiKey.set(key);
  try {
    // Checks the key before showing anything that needs it.
    await call("GET", "/api/v1/info");
  } catch (error) {
    apiKey.clear();
    showSignIn(error instanceof ApiFailure ? `The API refused the key: ${error.message}` : String(error.message));
    return;
  }
  $("api-key").value = "";
  route();
});

$("sign-out").addEventListener("click", () => signOut(""));
window.addEventListener("hashchange", route);
route();
